"""Scheduled retraining with `redis.url`: gateways on two hosts (two `paths.run`, where the file lock
would elect one scheduler each) elect one through a real redis-server, share its schedule, and a stand-by
takes over when the holder stops renewing."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

from core.datasets import DatasetStore
from core.settings import Settings
from gateway.history import HistoryCache
from gateway.job_runner import JobRunner
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.redis_job_store import RedisJobStore
from gateway.retrain_scheduler import RetrainScheduler
from tests.conftest import make_test_settings
from tests.fixtures.redis_server import RedisServer
from tests.gateway.test_retrain_scheduler import NOW, FakeClock

TTL_S = 0.5


def _host(tmp_path: Path, name: str, redis_server: RedisServer, prefix: str) -> Settings:
    settings = make_test_settings(tmp_path / name, retrain={"enabled": True, "poll_s": 0.1})
    shared = redis_server.settings(prefix, lock_ttl_s=TTL_S)
    return settings.model_copy(update={"redis": shared})


def _scheduler(settings: Settings, store: RedisJobStore, clock: FakeClock) -> RetrainScheduler:
    datasets = DatasetStore(settings)
    registry = ModelRegistry(settings, None)  # type: ignore[arg-type]
    runner = JobRunner(settings, store, registry, GatewayMetrics(), datasets)  # worker not started
    return RetrainScheduler(settings, store, runner, HistoryCache(settings, datasets), clock)


def test_two_hosts_elect_one_scheduler_share_its_schedule_and_take_over(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    prefix = f"t-{os.getpid()}-{time.monotonic_ns()}:"
    first_host, second_host = (_host(tmp_path, name, redis_server, prefix) for name in ("a", "b"))
    assert first_host.paths.run != second_host.paths.run
    store = RedisJobStore.open(first_host.redis)
    clock = FakeClock(NOW - timedelta(hours=1))

    async def scenario() -> None:
        first, second = _scheduler(first_host, store, clock), _scheduler(second_host, store, clock)
        assert await first.tick() is None  # elected: plans 03:00
        assert await second.tick() is None and not second.lock.held  # the other host stands by
        status = second.status()
        assert (status.runner, status.runner_pid) == ("other_process", os.getpid())
        assert status.next_run == first.status().next_run == "2026-12-05T03:00:00Z"  # one schedule
        assert not (second_host.paths.run / "schedule.json").exists()

        clock.now = NOW + timedelta(seconds=30)
        assert await second.tick() is None
        run = await first.tick()
        assert run is not None and run.job_id is not None
        assert [job.job_id for job in store.recent(10)] == [run.job_id]
        assert second.status().last_run == run

        # the holder stops renewing (a host that died): after the TTL the stand-by takes over, and
        # reads the schedule it left, so the run already made is not made again
        await asyncio.sleep(TTL_S * 3 + 0.2)  # the TTL is at least three polls: 0.3 s
        assert await second.tick() is None and second.lock.held
        assert second.status().runner == "this_process"
        assert second.status().next_run == "2026-12-06T03:00:00Z"
        assert await first.tick() is None and not first.lock.held  # its renewal fails: it stands by
        assert len(store.recent(10)) == 1
        await second.stop()
        await first.stop()

    asyncio.run(scenario())
    store.close()
