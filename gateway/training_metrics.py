"""Training metrics read from the job store at scrape time (a training job is too short to scrape).

Every gateway replica reading one job store reports the same values, so dashboards and alert rules
aggregate these gauges with `max()`, never `sum()` (`monitoring/prometheus/rules/salescast.yml`).
With the SQLite store a scrape costs one `PRAGMA data_version` while the store is unchanged, after a
write one scan of ids and statuses plus the records of jobs finished since; with the shared store in
Redis (`redis.url`) one pipelined read of the status sets, plus the records of jobs finished since.
Both read the active dataset's record (a small file).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, get_args

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from core.datasets import DatasetStore
from core.errors import SalescastError
from core.settings import RedisSettings
from gateway.redis_connection import SharedStateUnavailableError
from gateway.redis_job_store import RedisJobStore
from gateway.schemas.jobs import Job, JobStatus

log = logging.getLogger(__name__)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
FINISHED = ("succeeded", "failed")
_READ_BATCH = 500  # records fetched per query


@dataclass(frozen=True)
class LastTraining:
    """A category's succeeded training: when its job finished, how long it trained (None when the
    record has no time), the last day of the data it read (None without metrics)."""

    finished_at: float
    seconds: float | None
    data_end: float | None


@dataclass(frozen=True)
class StoreSnapshot:
    jobs: dict[str, int] = field(default_factory=dict)
    trainings: dict[str, LastTraining] = field(default_factory=dict)


class TrainingMetricsCollector:
    """A prometheus_client collector over the job store — the SQLite file (`paths.jobs_db`), or the
    shared one in Redis when `redis` has a URL — and the active dataset.

    It opens its own connection (SQLite: read-only), so it never waits on the gateway's writes. A
    finished job's record never changes, so each is parsed once (`Job`, the store's own model) and
    remembered; a scrape reads the ids and statuses and only the newly finished records. A store it
    cannot read is logged and exported as empty families (the scrape itself never fails).
    """

    def __init__(self, jobs_db: Path, datasets: DatasetStore, redis: RedisSettings | None = None) -> None:
        self._jobs_db = jobs_db
        self._datasets = datasets
        self._redis = redis if redis is not None and redis.url is not None else None
        self._shared: RedisJobStore | None = None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self._finished: dict[str, dict[str, LastTraining]] = {}  # job id -> its succeeded trainings
        self._snapshot = StoreSnapshot()

    def describe(self) -> Iterator[Metric]:
        """The families without samples: registering needs no store."""
        yield from _families(StoreSnapshot(), {})

    def collect(self) -> Iterator[Metric]:
        yield from _families(self._read_store(), self._data_ends())

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db, self._version = None, None
            if self._shared is not None:
                self._shared.close()
                self._shared = None

    def _read_store(self) -> StoreSnapshot:
        if self._redis is not None:
            return self._read_shared(self._redis)
        with self._lock:
            try:
                if self._db is None:
                    uri = f"{self._jobs_db.resolve().as_uri()}?mode=ro"
                    self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                # Changes whenever another connection (the gateway's store, another replica) commits.
                version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
                if version != self._version:
                    self._snapshot = self._refresh(self._db)
                    self._version = version
            except sqlite3.Error as exc:
                log.warning("training metrics: job store %s unreadable: %s", self._jobs_db, exc)
                if self._db is not None:
                    self._db.close()
                self._db, self._version, self._snapshot = None, None, StoreSnapshot()
            return self._snapshot

    def _read_shared(self, redis: RedisSettings) -> StoreSnapshot:
        """The snapshot of the job store in Redis; empty (and a warning) while Redis does not answer."""
        with self._lock:
            try:
                if self._shared is None:
                    self._shared = RedisJobStore.open(redis)
                shared = self._shared
                self._snapshot = self._snapshot_of(shared.statuses(), shared.raw_records)
            except SharedStateUnavailableError as exc:
                log.warning("training metrics: %s", exc)
                self._snapshot = StoreSnapshot()
            return self._snapshot

    def _refresh(self, db: sqlite3.Connection) -> StoreSnapshot:
        statuses = {
            str(job_id): str(status) for job_id, status in db.execute("SELECT job_id, status FROM jobs")
        }

        def records(ids: list[str]) -> list[tuple[str, str | bytes]]:
            marks = ",".join("?" for _ in ids)
            query = f"SELECT job_id, record FROM jobs WHERE job_id IN ({marks})"
            return [(str(job_id), record) for job_id, record in db.execute(query, ids)]

        return self._snapshot_of(statuses, records)

    def _snapshot_of(
        self, statuses: dict[str, str], records: Callable[[list[str]], Sequence[tuple[str, str | bytes]]]
    ) -> StoreSnapshot:
        """Counts by status and each category's newest succeeded training, reading `records` only
        for jobs finished since the last scrape."""
        finished = {job_id for job_id, status in statuses.items() if status in FINISHED}
        self._finished = {job_id: found for job_id, found in self._finished.items() if job_id in finished}
        new = sorted(finished - self._finished.keys())
        for start in range(0, len(new), _READ_BATCH):
            for job_id, record in records(new[start : start + _READ_BATCH]):
                self._finished[job_id] = _succeeded_trainings(job_id, record)

        jobs: dict[str, int] = dict.fromkeys(JOB_STATUSES, 0)
        for status in statuses.values():
            jobs[status] = jobs.get(status, 0) + 1
        trainings: dict[str, LastTraining] = {}
        for found in self._finished.values():
            for category, training in found.items():
                newest = trainings.get(category)
                if newest is None or training.finished_at > newest.finished_at:
                    trainings[category] = training
        return StoreSnapshot(jobs=jobs, trainings=trainings)

    def _data_ends(self) -> dict[str, float]:
        """Last day per category of the active dataset when it is an upload (its record holds them);
        the configured file's are known only by loading it, which a scrape must not do."""
        try:
            record = self._datasets.active_source().record
        except SalescastError as exc:
            log.warning("training metrics: active dataset unreadable: %s", exc)
            return {}
        if record is None:
            return {}
        return {summary.category: _day_seconds(summary.last) for summary in record.categories}


def _succeeded_trainings(job_id: str, record: str | bytes) -> dict[str, LastTraining]:
    """The categories a finished job trained successfully; none (and a warning) for an unreadable record."""
    try:
        job = Job.model_validate_json(record)
        if job.finished_at is None:
            return {}
        finished_at = _timestamp_seconds(job.finished_at)
    except ValueError as exc:  # pydantic's ValidationError included
        log.warning("training metrics: job %s unreadable, left out: %s", job_id, exc)
        return {}
    return {
        outcome.category: LastTraining(
            finished_at=finished_at,
            seconds=outcome.seconds,
            data_end=_data_end(outcome.metrics),
        )
        for outcome in job.results
        if outcome.state == "succeeded"
    }


def _data_end(metrics: dict[str, Any] | None) -> float | None:
    """`test_end` of the version's `metrics.json` (the test days are the most recent ones)."""
    test_end = (metrics or {}).get("test_end")
    if not isinstance(test_end, str):
        return None
    try:
        return _day_seconds(date.fromisoformat(test_end))
    except ValueError:
        return None


def _families(snapshot: StoreSnapshot, data_ends: dict[str, float]) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        "salescast_training_jobs",
        "Training jobs in the job store, by status (a store-wide count: max() over replicas, not sum()).",
        labels=["outcome"],
    )
    for status, count in snapshot.jobs.items():
        jobs.add_metric([status], count)
    yield jobs

    last_success = GaugeMetricFamily(
        "salescast_training_last_success_timestamp_seconds",
        "When the job of the category's newest succeeded training finished (Unix time).",
        labels=["category"],
    )
    duration = GaugeMetricFamily(
        "salescast_training_last_duration_seconds",
        "Seconds the category's newest succeeded training took (training alone, without deploying).",
        labels=["category"],
    )
    trained_end = GaugeMetricFamily(
        "salescast_training_data_end_timestamp_seconds",
        "Last day of the data the category's newest succeeded training read (its test_end; Unix time "
        "of that day's UTC midnight).",
        labels=["category"],
    )
    for category, training in sorted(snapshot.trainings.items()):
        last_success.add_metric([category], training.finished_at)
        if training.seconds is not None:
            duration.add_metric([category], training.seconds)
        if training.data_end is not None:
            trained_end.add_metric([category], training.data_end)
    yield last_success
    yield duration
    yield trained_end

    data_end = GaugeMetricFamily(
        "salescast_data_end_timestamp_seconds",
        "Last day of the category in the active dataset (uploads only; Unix time of that day's UTC "
        "midnight).",
        labels=["category"],
    )
    for category, seconds in sorted(data_ends.items()):
        data_end.add_metric([category], seconds)
    yield data_end


def _day_seconds(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def _timestamp_seconds(text: str) -> float:
    """Unix time of a job record's `2026-11-26T10:15:42Z`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
