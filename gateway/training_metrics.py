"""Training metrics read from the job store at scrape time (a training job is too short to scrape).

Every gateway replica reading one job store reports the same values, so dashboards and alert rules
aggregate these gauges with `max()`, never `sum()` (`monitoring/prometheus/rules/salescast.yml`).
A scrape costs one `PRAGMA data_version` while the store is unchanged; after a write, two SQL queries
whose JSON is parsed by SQLite, and the active dataset's record (a small JSON file).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import get_args

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from core.datasets import DatasetStore
from core.errors import SalescastError
from gateway.schemas.jobs import JobStatus

log = logging.getLogger(__name__)
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)

# Per category, its newest succeeded training in a finished job. With one aggregate, MAX(), SQLite takes
# the row's other columns from the row holding the maximum (documented "bare columns" behaviour).
_LAST_SUCCESS = """
SELECT json_extract(r.value, '$.category') AS category,
       MAX(json_extract(j.record, '$.finished_at')) AS finished_at,
       json_extract(r.value, '$.seconds') AS seconds,
       json_extract(r.value, '$.metrics.test_end') AS data_end
FROM jobs AS j, json_each(j.record, '$.results') AS r
WHERE j.status IN ('succeeded', 'failed') AND json_extract(r.value, '$.state') = 'succeeded'
      AND json_extract(j.record, '$.finished_at') IS NOT NULL
GROUP BY category
"""


@dataclass(frozen=True)
class LastTraining:
    """A category's newest succeeded training: when its job finished, how long it trained (None when
    the record has no time), the last day of the data it read (None without metrics)."""

    finished_at: float
    seconds: float | None
    data_end: float | None


@dataclass(frozen=True)
class StoreSnapshot:
    jobs: dict[str, int] = field(default_factory=dict)
    trainings: dict[str, LastTraining] = field(default_factory=dict)


class TrainingMetricsCollector:
    """A prometheus_client collector over the SQLite job store (`paths.jobs_db`) and the active dataset.

    It opens its own read-only connection, so it never waits on the gateway's writes; a store it cannot
    read is logged and exported as empty families (the scrape itself never fails).
    """

    def __init__(self, jobs_db: Path, datasets: DatasetStore) -> None:
        self._jobs_db = jobs_db
        self._datasets = datasets
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
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

    def _read_store(self) -> StoreSnapshot:
        with self._lock:
            try:
                if self._db is None:
                    uri = f"{self._jobs_db.resolve().as_uri()}?mode=ro"
                    self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
                # Changes whenever another connection (the gateway's store, another replica) commits.
                version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
                if version != self._version:
                    self._snapshot = _snapshot(self._db)
                    self._version = version
            except (sqlite3.Error, ValueError) as exc:  # ValueError: a record's date unreadable
                log.warning("training metrics: job store %s unreadable: %s", self._jobs_db, exc)
                if self._db is not None:
                    self._db.close()
                self._db, self._version, self._snapshot = None, None, StoreSnapshot()
            return self._snapshot

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


def _snapshot(db: sqlite3.Connection) -> StoreSnapshot:
    jobs: dict[str, int] = dict.fromkeys(JOB_STATUSES, 0)
    for status, count in db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status"):
        jobs[str(status)] = int(count)
    trainings: dict[str, LastTraining] = {}
    for category, finished_at, seconds, data_end in db.execute(_LAST_SUCCESS):
        if category is None:
            continue
        trainings[str(category)] = LastTraining(
            finished_at=_timestamp_seconds(str(finished_at)),
            seconds=float(seconds) if seconds is not None else None,
            data_end=_day_seconds(date.fromisoformat(data_end)) if data_end else None,
        )
    return StoreSnapshot(jobs=jobs, trainings=trainings)


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
