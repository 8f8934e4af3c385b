"""Scheduled retraining: the cron matcher, the trigger decision on a real job store, exactly one
scheduler per lock file (real flock across processes), ticks filing real jobs through a real JobRunner,
and GET /api/schedule through the real app."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.cron import CronError, parse_cron
from core.datasets import DatasetStore
from core.hashing import file_sha256
from core.settings import FreezeWindow, Settings, SettingsError, load_settings
from gateway.app import create_app
from gateway.history import HistoryCache
from gateway.job_runner import JobRunner
from gateway.job_store import JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.retrain_scheduler import (
    ACCURACY_NOT_SCORED,
    LOCK_FILE,
    RetrainScheduler,
    SchedulerLock,
    active_freeze,
    decide,
    iso_utc,
)
from gateway.schemas.jobs import CategoryOutcome, Job
from tests.conftest import SAMPLE_DATA, make_test_settings

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=timezone.utc)


# ---- the cron matcher -----------------------------------------------------------------------


def test_every_minute_fires_at_the_next_minute() -> None:
    cron = parse_cron("* * * * *")
    assert cron.matches(NOW)
    assert cron.next_after(NOW.replace(second=30)) == NOW + timedelta(minutes=1)


def test_ranges_steps_and_lists() -> None:
    cron = parse_cron("*/15 9-17/4 1,15 * *")
    assert cron.minutes == frozenset({0, 15, 30, 45})
    assert cron.hours == frozenset({9, 13, 17})
    assert cron.days == frozenset({1, 15})
    assert cron.next_after(datetime(2026, 12, 5, 10, 0)) == datetime(2026, 12, 15, 9, 0)
    assert cron.next_after(datetime(2026, 12, 31, 23, 59)) == datetime(2027, 1, 1, 9, 0)
    assert parse_cron("5/20 * * * *").minutes == frozenset({5, 25, 45})


def test_daily_at_three_and_day_fields_match_either() -> None:
    daily = parse_cron("0 3 * * *")
    assert daily.next_after(NOW) == NOW + timedelta(days=1)
    assert not daily.matches(NOW.replace(hour=4))
    # day 13 or a Friday (5): 2026-12-11 is a Friday, before the 13th
    either = parse_cron("0 0 13 * 5")
    assert either.next_after(datetime(2026, 12, 5)) == datetime(2026, 12, 11)
    assert either.next_after(datetime(2026, 12, 12)) == datetime(2026, 12, 13)
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 3 * *", "has 4 fields; expected 5"),
        ("61 * * * *", "cron minute field '61': '61' is outside 0-59"),
        ("* 5-2 * * *", "range '5-2' runs backwards"),
        ("*/0 * * * *", "step must be at least 1"),
        ("* * * JAN *", "'JAN' is not a number"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_an_invalid_expression_says_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        parse_cron(expression)


def test_an_invalid_cron_fails_at_load_naming_the_key() -> None:
    with pytest.raises(SettingsError, match=r"retrain\.cron: .*outside 0-23"):
        load_settings(environ={"SALESCAST_RETRAIN__CRON": "0 24 * * *"})
    with pytest.raises(SettingsError, match=r"retrain\.triggers"):
        load_settings(environ={"SALESCAST_RETRAIN__TRIGGERS": "[data_changed, moon_phase]"})


# ---- the decision ---------------------------------------------------------------------------


def _job(status: str, finished: datetime | None, sha256: str | None = "a" * 64) -> Job:
    return Job(
        job_id=f"job-{status}-{finished:%d%H}" if finished else f"job-{status}",
        kind="train_all",
        status=status,
        categories=["Beauty"],
        experiment_name="e",
        deploy_policy="if_better",
        created_at=iso_utc((finished or NOW) - timedelta(minutes=5)),
        finished_at=iso_utc(finished) if finished else None,
        dataset_sha256=sha256,
        results=[CategoryOutcome(category="Beauty", state="succeeded" if finished else "queued")],
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_test_settings(
        tmp_path, retrain={"enabled": True, "triggers": ["data_changed", "stale_days", "accuracy_drop"]}
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[JobStore]:
    job_store = JobStore(settings.paths.jobs_db)
    yield job_store
    job_store.close()


def test_an_empty_store_holds_both_triggers(settings: Settings, store: JobStore) -> None:
    decision = decide(settings.retrain, NOW, store, "a" * 64)
    assert decision.skipped is None
    assert decision.reasons == [
        "data_changed: no succeeded training in the job store",
        "stale_days: no succeeded training in the job store",
    ]
    assert decision.notes == [ACCURACY_NOT_SCORED]


def test_changed_data_is_a_reason(settings: Settings, store: JobStore) -> None:
    store.save(_job("succeeded", NOW - timedelta(days=1), sha256="b" * 64))
    decision = decide(settings.retrain, NOW, store, "a" * 64)
    assert decision.skipped is None
    assert len(decision.reasons) == 1
    assert decision.reasons[0].startswith("data_changed: the active dataset (aaaaaaaaaaaa) differs")


def test_an_old_training_is_stale(settings: Settings, store: JobStore) -> None:
    store.save(_job("succeeded", NOW - timedelta(days=9)))
    store.save(_job("failed", NOW - timedelta(hours=1)))  # a failed job does not count as training
    decision = decide(settings.retrain, NOW, store, "a" * 64)
    assert decision.reasons == [
        "stale_days: the newest succeeded training (job job-succeeded-2603) is 9.0 days old (limit 7)"
    ]


def test_fresh_training_on_the_same_data_is_nothing_to_do(settings: Settings, store: JobStore) -> None:
    store.save(_job("succeeded", NOW - timedelta(days=9), sha256="b" * 64))
    store.save(_job("succeeded", NOW - timedelta(days=2)))
    decision = decide(settings.retrain, NOW, store, "a" * 64)
    assert decision.reasons == []
    assert decision.skipped == (
        "nothing to do: data unchanged since job job-succeeded-0303; "
        "newest succeeded training 2.0 days old (limit 7)"
    )


def test_a_job_running_skips_the_run(settings: Settings, store: JobStore) -> None:
    store.save(_job("queued", None))
    decision = decide(settings.retrain, NOW, store, "a" * 64)
    assert decision.skipped == "a job is running (job-queued, queued)"
    assert decision.reasons == []


# ---- exactly one scheduler per lock file ------------------------------------------------------

_HOLDER = """
import sys, time
from pathlib import Path
from gateway.retrain_scheduler import SchedulerLock
lock = SchedulerLock(Path(sys.argv[1]))
print("held" if lock.try_acquire() else "refused", flush=True)
sys.stdin.read()  # hold until the test closes stdin
"""


def _holder(lock_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(lock_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_one_lock_only_one_runs(tmp_path: Path) -> None:
    lock_path = tmp_path / "run" / LOCK_FILE
    first = _holder(lock_path)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        second = _holder(lock_path)
        assert second.stdout is not None and second.stdout.readline().strip() == "refused"
        assert second.stdin is not None
        second.stdin.close()
        second.wait(timeout=30)
        here = SchedulerLock(lock_path)
        assert not here.try_acquire()
        assert here.holder_pid() == first.pid
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=30)
    # the holder gone, the kernel dropped its lock: a stand-by takes over
    assert SchedulerLock(lock_path).holder_pid() is None
    taker = SchedulerLock(lock_path)
    assert taker.try_acquire()
    assert SchedulerLock(lock_path).holder_pid() is not None
    taker.release()


# ---- ticks through a real JobRunner -----------------------------------------------------------


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _scheduler(settings: Settings, store: JobStore, clock: FakeClock) -> tuple[RetrainScheduler, JobRunner]:
    datasets = DatasetStore(settings)
    registry = ModelRegistry(settings, None)  # type: ignore[arg-type]
    runner = JobRunner(settings, store, registry, GatewayMetrics(), datasets)  # worker not started
    return RetrainScheduler(settings, store, runner, HistoryCache(settings, datasets), clock), runner


def test_a_due_tick_files_one_train_all_job_and_keeps_its_state(settings: Settings, store: JobStore) -> None:
    clock = FakeClock(NOW - timedelta(hours=1))

    async def scenario() -> None:
        scheduler, _ = _scheduler(settings, store, clock)
        standby, _ = _scheduler(settings, store, clock)
        assert await scheduler.tick() is None  # takes the lock, plans 03:00
        assert scheduler.status().next_run == "2026-12-05T03:00:00Z"
        clock.now = NOW + timedelta(seconds=30)
        assert await standby.tick() is None  # the lock is taken: the stand-by files nothing
        run = await scheduler.tick()
        assert run is not None and run.job_id is not None
        assert run.reason == (
            "data_changed: no succeeded training in the job store; "
            "stale_days: no succeeded training in the job store"
        )
        assert run.notes == [ACCURACY_NOT_SCORED]
        job = store.get(run.job_id)
        assert job is not None
        assert (job.kind, job.status, job.deploy_policy, job.only_changed) == (
            "train_all",
            "queued",
            "if_better",
            True,
        )
        assert job.dataset_sha256 == file_sha256(settings.data.path)
        assert job.categories  # every category of the data
        assert [item.job_id for item in store.recent(10)] == [run.job_id]

        state = json.loads(scheduler.state_path.read_text())
        assert state["next_run"] == "2026-12-06T03:00:00Z"
        assert state["last_run"]["job_id"] == run.job_id
        await scheduler.stop()

        # a restart keeps the schedule; the next due run finds the queued job and skips
        restarted, _ = _scheduler(settings, store, clock)
        status = restarted.status()
        assert status.last_run == run and status.last_job_status == "queued"
        assert status.runner == "none" and status.runner_pid is None
        clock.now = NOW + timedelta(days=1)
        skipped = await restarted.tick()
        assert skipped is not None
        assert skipped.skipped == f"a job is running ({run.job_id}, queued)" and skipped.job_id is None
        assert len(store.recent(10)) == 1
        assert restarted.status().runner == "this_process"
        await restarted.stop()

    asyncio.run(scenario())


def test_a_failed_run_is_recorded_and_retried_at_the_next_tick(tmp_path: Path) -> None:
    missing = tmp_path / "gone.csv"
    settings = make_test_settings(tmp_path, data={"path": str(missing)}, retrain={"enabled": True})
    store = JobStore(settings.paths.jobs_db)
    clock = FakeClock(NOW - timedelta(minutes=1))

    async def scenario() -> None:
        scheduler, _ = _scheduler(settings, store, clock)
        await scheduler.tick()
        clock.now = NOW
        failed = await scheduler.tick()
        assert failed is not None and failed.error is not None
        assert "cannot be read" in failed.error and failed.job_id is None
        assert scheduler.status().next_run == "2026-12-05T03:00:00Z"  # still due: retried
        missing.write_bytes(SAMPLE_DATA.read_bytes())
        clock.now = NOW + timedelta(minutes=1)
        retried = await scheduler.tick()
        assert retried is not None and retried.job_id is not None
        assert scheduler.status().next_run == "2026-12-06T03:00:00Z"
        await scheduler.stop()

    try:
        asyncio.run(scenario())
    finally:
        store.close()


# ---- GET /api/schedule through the real app ---------------------------------------------------


def _wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_schedule_route_when_disabled(client: TestClient) -> None:
    answer = client.get("/api/schedule")
    assert answer.status_code == 200
    body = answer.json()
    assert body["enabled"] is False
    assert body["cron"] == "0 3 * * *"
    assert body["triggers"] == ["data_changed", "stale_days"]
    assert (body["next_run"], body["last_run"], body["runner"], body["runner_pid"]) == (
        None,
        None,
        "none",
        None,
    )


def test_two_apps_on_one_run_folder_run_one_scheduler(tmp_path: Path) -> None:
    """Two gateways (as two uvicorn workers would) on one `paths.run`: one runs the schedule, the
    other answers the same schedule and names the runner."""
    settings = make_test_settings(tmp_path, retrain={"enabled": True, "cron": "30 4 * * 1", "poll_s": 0.05})
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        _wait_for(
            lambda: (
                (pair := [client.get("/api/schedule").json() for client in (first, second)])
                and any(body["runner"] == "this_process" for body in pair)
                and pair
            )
        )
        time.sleep(0.2)  # several ticks: the other never takes the lock
        bodies = [client.get("/api/schedule").json() for client in (first, second)]
        assert sorted(body["runner"] for body in bodies) == ["other_process", "this_process"]
        assert {body["runner_pid"] for body in bodies} == {os.getpid()}
        assert {body["next_run"] for body in bodies} == {bodies[0]["next_run"]}
        assert datetime.fromisoformat(bodies[0]["next_run"]).strftime("%H:%M %a") == "04:30 Mon"
        assert bodies[0]["enabled"] is True and bodies[0]["last_run"] is None


# ---- accuracy_drop and freeze windows -------------------------------------------------------------


def test_accuracy_drop_holds_for_categories_worse_than_the_seasonal_naive(
    settings: Settings, store: JobStore
) -> None:
    store.save(_job("succeeded", NOW - timedelta(days=1)))
    worse = decide(settings.retrain, NOW, store, "a" * 64, {"Beauty": 1.25, "Clothing": 0.9})
    assert (
        worse.reasons == ["accuracy_drop: live RMSE over the seasonal naive's above 1 for Beauty 1.250"]
        and worse.notes == []
    )
    fine = decide(settings.retrain, NOW, store, "a" * 64, {"Beauty": 0.95})
    assert (
        fine.skipped is not None and "live accuracy within 1 of the seasonal naive (1 scored)" in fine.skipped
    )


@pytest.mark.parametrize(
    ("day", "frozen"),
    [
        ("2026-11-14", False),
        ("2026-11-15", True),
        ("2026-12-31", True),
        ("2027-01-10", True),
        ("2027-01-11", False),
    ],
)
def test_a_freeze_window_wraps_the_new_year(day: str, frozen: bool) -> None:
    window = FreezeWindow(start="11-15", end="1-10", name="peak")
    moment = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    assert (active_freeze([window], moment) is not None) == frozen
    assert window.end == "01-10"


@pytest.mark.parametrize("bad", ["13-01", "02-30", "11/15", "peak"])
def test_a_bad_freeze_day_is_a_clear_settings_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError, match="expected a month and day as MM-DD"):
        make_test_settings(tmp_path, retrain={"freeze": [{"start": bad, "end": "01-10"}]})


def test_a_due_run_inside_a_freeze_window_trains_without_deploying(tmp_path: Path) -> None:
    settings = make_test_settings(
        tmp_path,
        retrain={
            "enabled": True,
            "deploy": "always",
            "freeze": [{"start": "12-01", "end": "12-31", "name": "peak"}],
        },
    )
    clock = FakeClock(NOW - timedelta(hours=1))
    store = JobStore(settings.paths.jobs_db)

    async def scenario() -> None:
        scheduler, _ = _scheduler(settings, store, clock)
        assert await scheduler.tick() is None
        assert scheduler.status().frozen_now == "12-01..12-31"
        clock.now = NOW + timedelta(seconds=30)
        run = await scheduler.tick()
        assert run is not None and run.job_id is not None and run.deploy == "never"
        assert any(
            note.startswith("freeze 12-01..12-31 (peak): automatic deploys suspended") for note in run.notes
        )
        job = store.get(run.job_id)
        assert job is not None and job.deploy_policy == "never"
        await scheduler.stop()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
