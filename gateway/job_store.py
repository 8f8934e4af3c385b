"""Durable training-job records in a small SQLite file (`paths.jobs_db`).

One row per job holding the whole `Job` as JSON, so the record a client reads after a gateway
restart is exactly the one it read before. Writes are tiny and rare; each is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

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
"""


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z, second precision."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobStore:
    """Save, load and list jobs; safe to call from the event loop and worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

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
            row = self._db.execute("SELECT record FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return Job.model_validate_json(row[0]) if row else None

    def recent(self, limit: int) -> list[Job]:
        """Newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Job.model_validate_json(row[0]) for row in rows]

    def with_status(self, *statuses: str) -> list[Job]:
        """Jobs in any of `statuses`, oldest first."""
        marks = ",".join("?" for _ in statuses)
        with self._lock:
            rows = self._db.execute(
                f"SELECT record FROM jobs WHERE status IN ({marks}) ORDER BY created_at, rowid",
                statuses,
            ).fetchall()
        return [Job.model_validate_json(row[0]) for row in rows]

    def fail_interrupted(self) -> list[Job]:
        """Mark jobs left `running` by a dead gateway as failed (called at start-up); returns them."""
        failed: list[Job] = []
        for job in self.with_status("running"):
            results = [
                outcome.model_copy(update={"state": "failed", "error": outcome.error or RESTART_REASON})
                if outcome.state not in FINAL_STATES
                else outcome
                for outcome in job.results
            ]
            job = job.model_copy(
                update={
                    "status": "failed",
                    "error": RESTART_REASON,
                    "finished_at": utc_now(),
                    "results": results,
                }
            )
            self.save(job)
            failed.append(job)
        return failed
