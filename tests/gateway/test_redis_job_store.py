"""The shared-state parts against a real redis-server: the job store (and the SQLite one, by the same
contract), the one-job lock, the forecast cache, and a gateway that will not start without its Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import RedisSettings
from gateway.app import create_app
from gateway.forecast_cache import ForecastCache, ForecastKey, LocalBackend
from gateway.job_lock import FileJobLock, RedisJobLock
from gateway.job_store import RESTART_REASON, JobRecords, JobStore
from gateway.redis_connection import SharedStateUnavailableError
from gateway.redis_job_store import RedisJobStore
from gateway.schemas.jobs import CategoryOutcome, Job, JobStatus
from salescast.bench.isolation import free_port
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.redis_server import RedisServer

PASSWORD = "s3cret-pass-0123"


def _job(job_id: str, status: JobStatus = "queued", created_at: str = "2026-12-05T10:00:00Z") -> Job:
    return Job(
        job_id=job_id,
        kind="train",
        status=status,
        categories=["Beauty"],
        experiment_name="e",
        deploy_policy="never",
        created_at=created_at,
        results=[CategoryOutcome(category="Beauty", state="training" if status == "running" else "queued")],
    )


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobRecords]:
    """Both job stores, by one contract."""
    made: JobRecords
    if request.param == "sqlite":
        made = JobStore(tmp_path / "jobs.sqlite")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        made = RedisJobStore.open(server.settings())
    yield made
    made.close()


def test_a_store_keeps_records_lists_them_in_order_and_moves_them_between_statuses(store: JobRecords) -> None:
    for index, job_id in enumerate(["first", "second", "third"]):
        store.save(_job(job_id, created_at=f"2026-12-05T10:00:0{index}Z"))
    store.save(_job("second", status="running"))
    assert store.get("second") == _job("second", status="running")
    assert store.get("missing") is None
    assert [job.job_id for job in store.recent(2)] == ["third", "second"]
    assert [job.job_id for job in store.with_status("queued")] == ["first", "third"]
    assert [job.job_id for job in store.with_status("queued", "running")] == ["first", "second", "third"]
    assert store.with_status("succeeded") == []


def test_a_cancel_request_survives_the_runner_saving_its_own_copy(store: JobRecords) -> None:
    running = _job("j1", status="running")
    store.save(running)
    assert not store.cancel_requested("j1")
    store.request_cancel("j1")
    store.save(running.model_copy(update={"results": []}))  # the runner mirrors progress
    assert store.cancel_requested("j1")
    job = store.get("j1")
    assert job is not None and job.cancel_requested and job.results == []
    assert [item.cancel_requested for item in store.recent(5)] == [True]
    assert not store.cancel_requested("other")


def test_jobs_left_running_are_failed_by_the_lock_holder(store: JobRecords) -> None:
    store.save(_job("left", status="running"))
    store.save(_job("waiting"))
    [failed] = store.fail_interrupted()
    assert (failed.job_id, failed.status, failed.error) == ("left", "failed", RESTART_REASON)
    assert [outcome.state for outcome in failed.results] == ["failed"]
    assert store.with_status("running") == []
    assert [job.job_id for job in store.with_status("failed")] == ["left"]
    assert [job.job_id for job in store.with_status("queued")] == ["waiting"]


def test_two_redis_stores_on_one_prefix_share_jobs_and_another_prefix_sees_none(
    redis_server: RedisServer,
) -> None:
    settings = redis_server.settings()
    one, other = RedisJobStore.open(settings), RedisJobStore.open(settings)
    stranger = RedisJobStore.open(redis_server.settings())
    one.save(_job("shared"))
    other.request_cancel("shared")
    assert one.cancel_requested("shared")
    assert [job.job_id for job in other.with_status("queued")] == ["shared"]
    assert stranger.recent(10) == [] and stranger.get("shared") is None


def test_a_redis_that_does_not_answer_is_a_503_naming_it_without_the_password() -> None:
    url = f"redis://salescast:{PASSWORD}@127.0.0.1:{free_port()}/0"
    store = RedisJobStore.open(RedisSettings(url=url))
    with pytest.raises(SharedStateUnavailableError) as failed:
        store.recent(5)
    assert failed.value.status_code == 503
    assert "127.0.0.1" in str(failed.value) and PASSWORD not in str(failed.value)


def test_the_redis_lock_is_exclusive_released_by_its_token_and_lost_when_taken(
    redis_server: RedisServer,
) -> None:
    key = f"t-lock-{time.monotonic_ns()}"
    client = redis_server.client()

    async def scenario() -> None:
        first = RedisJobLock(redis_server.client(), key, ttl_s=0.3)
        second = RedisJobLock(redis_server.client(), key, ttl_s=0.3)
        assert await first.acquire()
        assert not await second.acquire()
        await asyncio.sleep(0.6)  # twice the TTL: held because renewed
        assert not await second.acquire() and not first.lost
        await first.release()
        assert client.get(key) is None
        assert await second.acquire()
        client.set(key, "someone-else")  # taken away (e.g. it expired while Redis was away)
        await asyncio.sleep(0.3)
        assert second.lost
        await second.release()  # releases only its own token
        assert client.get(key) == b"someone-else"

    asyncio.run(scenario())


def test_a_holder_that_died_frees_the_redis_lock_after_its_ttl(redis_server: RedisServer) -> None:
    key = f"t-lock-{time.monotonic_ns()}"

    async def hold_and_die() -> None:  # the event loop ends without a release: its renewals stop
        assert await RedisJobLock(redis_server.client(), key, ttl_s=0.5).acquire()

    asyncio.run(hold_and_die())

    async def take_over() -> float:
        lock = RedisJobLock(redis_server.client(), key, ttl_s=0.5)
        assert not await lock.acquire()
        started = time.monotonic()
        while not await lock.acquire():
            await asyncio.sleep(0.05)
        await lock.release()
        return time.monotonic() - started

    assert asyncio.run(take_over()) < 2.0  # the TTL is 0.5 s; a busy machine may add a little


def test_the_file_lock_is_exclusive_between_holders_of_one_job_store(tmp_path: Path) -> None:
    async def scenario() -> None:
        first, second = FileJobLock(tmp_path / "jobs.lock"), FileJobLock(tmp_path / "jobs.lock")
        assert await first.acquire()
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
        await second.release()

    asyncio.run(scenario())


def _key(model_name: str, version: str = "v1", horizon: int = 1) -> ForecastKey:
    return ForecastKey(model_name, version, "sha", "2026-12-01", horizon, (80.0, 95.0))


def test_forecasts_cached_in_redis_are_shared_and_dropped_per_model_for_everyone(
    redis_server: RedisServer,
) -> None:
    settings = redis_server.settings()

    async def scenario() -> None:
        one, other = ForecastCache.open(settings), ForecastCache.open(settings)
        await one.put(_key("beauty"), b'{"v": 1}')
        await one.put(_key("beauty", horizon=7), b'{"v": 7}')
        await one.put(_key("clothing"), b'{"c": 1}')
        assert await other.get(_key("beauty")) == b'{"v": 1}'
        assert await other.get(_key("beauty", version="v2")) is None
        await other.drop(["beauty"])
        assert await one.get(_key("beauty")) is None
        assert await one.get(_key("beauty", horizon=7)) is None
        assert await one.get(_key("clothing")) == b'{"c": 1}'
        await one.close()
        await other.close()

    asyncio.run(scenario())


def test_cached_forecasts_expire_after_their_ttl(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        cache = ForecastCache.open(redis_server.settings(forecast_cache_ttl_s=0.3))
        await cache.put(_key("beauty"), b"{}")
        assert await cache.get(_key("beauty")) == b"{}"
        await asyncio.sleep(0.5)
        assert await cache.get(_key("beauty")) is None
        await cache.close()

    asyncio.run(scenario())


def test_the_in_process_cache_keeps_the_most_recently_used_answers() -> None:
    async def scenario() -> None:
        cache = ForecastCache(LocalBackend(entries=2, ttl_s=60))
        await cache.put(_key("a"), b"a")
        await cache.put(_key("b"), b"b")
        assert await cache.get(_key("a")) == b"a"  # now b is the least recently used
        await cache.put(_key("c"), b"c")
        assert [await cache.get(_key(name)) for name in "abc"] == [b"a", None, b"c"]
        await cache.drop(["a"])
        assert await cache.get(_key("a")) is None

    asyncio.run(scenario())


def test_a_cache_whose_redis_is_gone_is_a_miss_not_an_error(redis_server: RedisServer) -> None:
    dead = redis_server.settings().model_copy(update={"url": f"redis://127.0.0.1:{free_port()}/0"})

    async def scenario() -> None:
        cache = ForecastCache.open(dead)
        await cache.put(_key("beauty"), b"{}")
        assert await cache.get(_key("beauty")) is None
        await cache.drop(["beauty"])
        await cache.close()

    asyncio.run(scenario())


def test_an_in_process_gateway_does_not_start_without_its_redis(tmp_path: Path) -> None:
    port = free_port()
    settings = make_test_settings(tmp_path, redis={"url": f"redis://salescast:{PASSWORD}@127.0.0.1:{port}/0"})
    with pytest.raises(SharedStateUnavailableError) as failed, TestClient(create_app(settings)):
        pass
    message = str(failed.value)
    assert message.startswith(f"redis.url redis://127.0.0.1:{port}/0 does not answer")
    assert PASSWORD not in message and "salescast:" not in message


def test_the_gateway_process_stops_at_start_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()
    settings = make_test_settings(tmp_path, redis={"url": f"redis://salescast:{PASSWORD}@127.0.0.1:{port}/0"})
    with pytest.raises(Exception) as failed:
        GatewayProcess(settings, tmp_path).start()
    log = (tmp_path / "gateway.log").read_text(encoding="utf-8")
    assert f"redis.url redis://127.0.0.1:{port}/0 does not answer" in log, log[-2000:]
    assert PASSWORD not in log and PASSWORD not in str(failed.value)


def test_a_foreign_key_under_the_prefix_is_a_503_naming_the_problem(
    redis_server: RedisServer,
) -> None:
    """A key of another type under the prefix (someone else's data) is a clear 503 too, not a 500."""
    settings = redis_server.settings()
    redis_server.client().set(f"{settings.key_prefix}jobs", "not a sorted set")
    with pytest.raises(SharedStateUnavailableError, match="WRONGTYPE"):
        RedisJobStore.open(settings).recent(5)
