"""Durable training-job records: the `JobRecords` every store offers, and the embedded one, a small
SQLite file (`paths.jobs_db`). With `redis.url` the records live in Redis instead
(`gateway.redis_job_store`), shared by every gateway replica.

One row per job holding the whole `Job` as JSON, so the record a client reads after a gateway
restart is exactly the one it read before. Writes are tiny and rare; each is one transaction. A
cancel request is kept beside the record, not in it: the runner saves its own copy of the record
while the job runs and must never write a request away.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from core.sqlite_file import open_database
from gateway.schemas.jobs import FINAL_STATES, Job

RESTART_REASON = "gateway restarted while the job was running"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);
CREATE TABLE IF NOT EXISTS cancels (job_id TEXT PRIMARY KEY);
"""
_SELECT = "SELECT record, cancels.job_id IS NOT NULL FROM jobs LEFT JOIN cancels USING (job_id)"


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z, second precision."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobRecords(Protocol):
    """What the job runner, the routes and the retrain scheduler need from a job store."""

    def save(self, job: Job) -> None:
        """Insert or replace the whole record (a cancel request stays)."""

    def get(self, job_id: str) -> Job | None: ...

    def recent(self, limit: int) -> list[Job]:
        """Newest first."""

    def with_status(self, *statuses: str) -> list[Job]:
        """Jobs in any of `statuses`, oldest first."""

    def request_cancel(self, job_id: str) -> None:
        """Mark the job `cancel_requested`; whichever runner runs it stops it at its next poll."""

    def cancel_requested(self, job_id: str) -> bool: ...

    def fail_interrupted(self) -> list[Job]:
        """Mark jobs left `running` as failed; only for a caller holding the one-job lock."""

    def close(self) -> None: ...


def with_cancel_flag(record: str | bytes, cancelled: bool) -> Job:
    """The stored record as a `Job`, `cancel_requested` from the store's own flag."""
    job = Job.model_validate_json(record)
    return job.model_copy(update={"cancel_requested": True}) if cancelled else job


def interrupted(job: Job) -> Job:
    """`job`, left running by a runner that is gone, as failed (every unfinished category too)."""
    results = [
        outcome.model_copy(update={"state": "failed", "error": outcome.error or RESTART_REASON})
        if outcome.state not in FINAL_STATES
        else outcome
        for outcome in job.results
    ]
    return job.model_copy(
        update={"status": "failed", "error": RESTART_REASON, "finished_at": utc_now(), "results": results}
    )


class JobStore:
    """The embedded `JobRecords`: save, load and list jobs; safe to call from the event loop and
    worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save(self, job: Job) -> None:
        """Insert or replace the whole record."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jobs (job_id, created_at, status, record) VALUES (?, ?, ?, ?)",
                (job.job_id, job.created_at, job.status, job.model_dump_json()),
            )

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute(f"{_SELECT} WHERE job_id = ?", (job_id,)).fetchone()
        return with_cancel_flag(*row) if row else None

    def recent(self, limit: int) -> list[Job]:
        """Newest first."""
        with self._lock:
            rows = self._db.execute(
                f"{_SELECT} ORDER BY created_at DESC, jobs.rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [with_cancel_flag(*row) for row in rows]

    def with_status(self, *statuses: str) -> list[Job]:
        """Jobs in any of `statuses`, oldest first."""
        marks = ",".join("?" for _ in statuses)
        with self._lock:
            rows = self._db.execute(
                f"{_SELECT} WHERE status IN ({marks}) ORDER BY created_at, jobs.rowid", statuses
            ).fetchall()
        return [with_cancel_flag(*row) for row in rows]

    def request_cancel(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO cancels (job_id) VALUES (?)", (job_id,))

    def cancel_requested(self, job_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM cancels WHERE job_id = ?", (job_id,)).fetchone()
        return row is not None

    def fail_interrupted(self) -> list[Job]:
        """Mark jobs left `running` by a dead gateway as failed (by the lock's holder); returns them."""
        failed = [interrupted(job) for job in self.with_status("running")]
        for job in failed:
            self.save(job)
        return failed
