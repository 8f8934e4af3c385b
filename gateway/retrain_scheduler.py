"""Scheduled retraining (`retrain:` settings, docs/retraining.md): at each due cron time, file an ordinary
`train_all` job when a trigger holds, from exactly one gateway process.

Every gateway process (uvicorn workers, several gateways on one `paths.run`) starts a scheduler, but
only the one holding an exclusive non-blocking `flock` on `paths.run/retrain-scheduler.lock` acts;
the others try again at every tick, so one takes over when the holder dies (the kernel drops the lock
with the process). The holder keeps its state in `paths.run/schedule.json` (written atomically), so a
restart keeps the next and the last run, and every process answers `GET /api/schedule` from it. With
`redis.url` both live in Redis instead (`gateway.redis_scheduler_lock`): one scheduler on all hosts.

Decisions: a due run that finds no trigger holding, or a job queued or running, files nothing and
waits for the next cron time (`skipped`); a run that fails (the dataset cannot be read, the queue is
full) is recorded with its `error` and retried at the next tick. A cron time missed while no gateway
ran is run once at the first tick after start.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from core.atomic import write_json_atomic
from core.cron import CronSchedule, parse_cron
from core.errors import SalescastError
from core.hashing import file_sha256
from core.settings import FreezeWindow, RetrainSettings, Settings
from gateway.datasets import active_dataset_or_503
from gateway.errors import DataUnavailableError
from gateway.history import HistoryCache
from gateway.job_runner import JobRunner, TrainingData, training_data
from gateway.job_store import JobRecords
from gateway.redis_scheduler_lock import RedisSchedulerLock
from gateway.schemas.jobs import Job
from gateway.schemas.schedule import Schedule, ScheduledRun, ScheduleRecord

log = logging.getLogger(__name__)
LOCK_FILE = "retrain-scheduler.lock"
STATE_FILE = "schedule.json"
ACCURACY_NOT_SCORED = (
    "accuracy_drop: no served version has live_accuracy.min_days scored days yet (docs/monitoring.md)"
)
Clock = Callable[[], datetime]
LiveRatios = Callable[[], Mapping[str, float]]


def utc_clock() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, second precision (as job records)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


class SchedulerLock:
    """An exclusive, non-blocking `flock` naming its holder's pid: the one scheduler per `paths.run`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; never waits."""
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def holder_pid(self) -> int | None:
        """The pid of the process holding the lock, or None when no process holds it."""
        if self._handle is not None:
            return os.getpid()
        try:
            handle = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = handle.read().strip()
                return int(text) if text.isdigit() else None
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None


@dataclass(frozen=True)
class Decision:
    """Why a due run files a job (`reasons`), or why it does not (`skipped`)."""

    reasons: list[str] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


def decide(
    retrain: RetrainSettings,
    now: datetime,
    store: JobRecords,
    active_sha256: str,
    live_ratios: Mapping[str, float] | None = None,
) -> Decision:
    """Check every configured trigger against the job store and live accuracy (category → served
    version's live RMSE over the seasonal naive's, where scored): a job queued or running skips the
    run; otherwise each trigger that holds is a reason."""
    busy = store.with_status("queued", "running")
    if busy:
        return Decision(skipped=f"a job is running ({busy[0].job_id}, {busy[0].status})")
    newest = _newest_succeeded(store.with_status("succeeded"))
    reasons: list[str] = []
    fine: list[str] = []
    notes: list[str] = []
    for trigger in retrain.triggers:
        if trigger == "accuracy_drop":
            _accuracy_drop(retrain.accuracy_drop_ratio, live_ratios or {}, reasons, fine, notes)
        elif newest is None:
            reasons.append(f"{trigger}: no succeeded training in the job store")
        elif trigger == "data_changed":
            if newest.dataset_sha256 != active_sha256:
                reasons.append(
                    f"data_changed: the active dataset ({active_sha256[:12]}) differs from the one job "
                    f"{newest.job_id} trained on ({(newest.dataset_sha256 or 'unknown')[:12]})"
                )
            else:
                fine.append(f"data unchanged since job {newest.job_id}")
        else:
            age_days = (now - _finished(newest)) / timedelta(days=1)
            if age_days > retrain.stale_days:
                reasons.append(
                    f"stale_days: the newest succeeded training (job {newest.job_id}) is "
                    f"{age_days:.1f} days old (limit {retrain.stale_days:g})"
                )
            else:
                fine.append(
                    f"newest succeeded training {age_days:.1f} days old (limit {retrain.stale_days:g})"
                )
    if reasons:
        return Decision(reasons=reasons, notes=notes)
    why = "; ".join(fine) if fine else "no trigger can be checked"
    return Decision(skipped=f"nothing to do: {why}", notes=notes)


def _accuracy_drop(
    limit: float, ratios: Mapping[str, float], reasons: list[str], fine: list[str], notes: list[str]
) -> None:
    if not ratios:
        notes.append(ACCURACY_NOT_SCORED)
        return
    worse = {category: ratio for category, ratio in sorted(ratios.items()) if ratio > limit}
    if worse:
        shown = ", ".join(f"{category} {ratio:.3f}" for category, ratio in worse.items())
        reasons.append(f"accuracy_drop: live RMSE over the seasonal naive's above {limit:g} for {shown}")
    else:
        fine.append(f"live accuracy within {limit:g} of the seasonal naive ({len(ratios)} scored)")


def active_freeze(windows: list[FreezeWindow], moment: datetime) -> FreezeWindow | None:
    """The freeze window `moment` (in the schedule's time zone) falls in, if any."""
    day = (moment.month, moment.day)
    for window in windows:
        start, end = window.bounds()
        inside = start <= day <= end if start <= end else (day >= start or day <= end)  # wraps the new year
        if inside:
            return window
    return None


def _finished(job: Job) -> datetime:
    return parse_utc(job.finished_at or job.created_at)


def _newest_succeeded(jobs: list[Job]) -> Job | None:
    return max(jobs, key=_finished, default=None)


class RetrainScheduler:
    """Runs `retrain.cron` in the process holding the lock; `status()` answers in every process."""

    def __init__(
        self,
        settings: Settings,
        store: JobRecords,
        runner: JobRunner,
        history: HistoryCache,
        clock: Clock = utc_clock,
        live_ratios: LiveRatios | None = None,
    ) -> None:
        self._settings = settings
        self._retrain = settings.retrain
        self._cron: CronSchedule = parse_cron(self._retrain.cron)
        self._zone = ZoneInfo(self._retrain.timezone)
        self._store = store
        self._runner = runner
        self._history = history
        self._clock = clock
        self._live_ratios = live_ratios
        # With redis.url the replicas of every host elect one scheduler and share its state in Redis.
        self.shared = (
            RedisSchedulerLock.open(settings.redis, self._retrain.poll_s) if settings.redis.url else None
        )
        self.lock: SchedulerLock | RedisSchedulerLock = self.shared or SchedulerLock(
            settings.paths.run / LOCK_FILE
        )
        self.state_path = settings.paths.run / STATE_FILE
        self._record: ScheduleRecord | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking (only when `retrain.enabled`)."""
        if self._retrain.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="salescast-retrain-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.lock.release()  # one short Redis call at most: not worth a thread at shutdown
        if self.shared is not None:
            self.shared.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bug must not stop the schedule; the next tick tries again
                log.exception("retrain scheduler tick failed")
            await asyncio.sleep(self._retrain.poll_s)

    def next_after(self, moment: datetime) -> datetime:
        """The next cron time after `moment`, read in `retrain.timezone`, as UTC."""
        return self._cron.next_after(moment.astimezone(self._zone)).astimezone(timezone.utc)

    async def tick(self) -> ScheduledRun | None:
        """One wake-up: take the lock if free; as its holder, run when a cron time is due. Returns the
        run it made, if any."""
        was_held = self.lock.held
        if not await asyncio.to_thread(self.lock.try_acquire):  # renews a held lock in Redis
            return None
        if not was_held:
            self._record = None  # the previous holder's state is the truth
            log.info("retrain scheduler runs in pid=%s cron=%r", os.getpid(), self._retrain.cron)
        now = self._clock()
        record = self._record or self._load()
        if record.next_run is None or (record.cron, record.timezone) != (
            self._retrain.cron,
            self._retrain.timezone,
        ):
            self._save(
                ScheduleRecord(
                    cron=self._retrain.cron,
                    timezone=self._retrain.timezone,
                    next_run=iso_utc(self.next_after(now)),
                    last_run=record.last_run,
                )
            )
            return None
        due = parse_utc(record.next_run)
        if now < due:
            return None
        run = await self._run(now, due)
        next_run = record.next_run if run.error else iso_utc(self.next_after(now))
        self._save(record.model_copy(update={"last_run": run, "next_run": next_run}))
        return run

    async def _run(self, now: datetime, due: datetime) -> ScheduledRun:
        stamp = {"at": iso_utc(now), "due": iso_utc(due)}
        try:
            data = await self._active_data()
            ratios = await asyncio.to_thread(self._live_ratios) if self._live_ratios else {}
            decision = await asyncio.to_thread(decide, self._retrain, now, self._store, data.sha256, ratios)
            if decision.skipped is not None:
                log.info("scheduled retraining skipped: %s", decision.skipped)
                return ScheduledRun(**stamp, skipped=decision.skipped, notes=decision.notes)
            deploy, frozen = (
                self._retrain.deploy,
                active_freeze(self._retrain.freeze, now.astimezone(self._zone)),
            )
            if frozen is not None:
                deploy = "never"
                decision.notes.append(
                    f"freeze {frozen.start}..{frozen.end}"
                    + (f" ({frozen.name})" if frozen.name else "")
                    + ": automatic deploys suspended, the job trains and archives only"
                )
            job = self._runner.submit(
                "train_all",
                await self._history.categories(),
                self._settings.mlflow.experiment,
                deploy,
                data,
                only_changed=self._retrain.only_changed,
            )
        except SalescastError as exc:
            log.warning("scheduled retraining failed, retried at the next tick: %s", exc)
            return ScheduledRun(**stamp, error=str(exc))
        reason = "; ".join(decision.reasons)
        log.info("scheduled retraining job=%s reason=%s", job.job_id, reason)
        return ScheduledRun(**stamp, reason=reason, job_id=job.job_id, deploy=deploy, notes=decision.notes)

    async def _active_data(self) -> TrainingData:
        """The active dataset as POST /api/train_all names it (the configured file hashed here)."""
        source = active_dataset_or_503(self._history)
        if source.record is not None:
            return training_data(source)
        try:
            sha256 = await asyncio.to_thread(file_sha256, source.path)
        except OSError as exc:
            raise DataUnavailableError(
                f"sales data file {source.path} cannot be read: {exc.strerror}"
            ) from None
        return training_data(source, sha256)

    def _load(self) -> ScheduleRecord:
        fresh = ScheduleRecord(cron=self._retrain.cron, timezone=self._retrain.timezone)
        if self.shared is not None:
            payload = self.shared.read_state()
            try:
                return ScheduleRecord.model_validate_json(payload) if payload is not None else fresh
            except ValidationError as exc:
                log.warning("the retrain schedule in Redis cannot be read, starting a fresh one: %s", exc)
                return fresh
        try:
            return ScheduleRecord.model_validate_json(self.state_path.read_bytes())
        except FileNotFoundError:
            return fresh
        except (OSError, ValidationError) as exc:
            log.warning("%s cannot be read, starting a fresh schedule: %s", self.state_path, exc)
            return fresh

    def _save(self, record: ScheduleRecord) -> None:
        if self.shared is not None:
            self.shared.write_state(record.model_dump_json())
        else:
            write_json_atomic(self.state_path, record.model_dump(mode="json"))
        self._record = record

    def status(self) -> Schedule:
        """The schedule as this process knows it: its own state when it holds the lock, else the file."""
        record = self._record if self.lock.held and self._record else self._load()
        pid = self.lock.holder_pid()
        next_run = None
        if self._retrain.enabled:
            next_run = record.next_run if record.cron == self._retrain.cron else None
            next_run = next_run or iso_utc(self.next_after(self._clock()))
        last = record.last_run
        job = self._store.get(last.job_id) if last and last.job_id else None
        frozen = active_freeze(self._retrain.freeze, self._clock().astimezone(self._zone))
        return Schedule(
            enabled=self._retrain.enabled,
            cron=self._retrain.cron,
            timezone=self._retrain.timezone,
            triggers=self._retrain.triggers,
            deploy=self._retrain.deploy,
            only_changed=self._retrain.only_changed,
            freeze=[window.model_dump() for window in self._retrain.freeze],
            frozen_now=None if frozen is None else f"{frozen.start}..{frozen.end}",
            next_run=next_run,
            last_run=last,
            last_job_status=job.status if job else None,
            runner_pid=pid,
            runner="this_process" if self.lock.held else ("other_process" if pid is not None else "none"),
        )
