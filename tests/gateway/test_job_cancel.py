"""POST /api/jobs/{job_id}/cancel on the embedded gateway (SQLite job store, file lock): 404, 409, and a
queued job cancelled at once while another holder of the one-job lock keeps it from starting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from gateway.job_lock import FileJobLock
from gateway.job_runner import CANCEL_REASON
from gateway.job_store import JobStore
from gateway.schemas.jobs import CategoryOutcome, Job
from tests.gateway.conftest import API_KEY

HEADERS = {"X-API-Key": API_KEY}


def test_cancel_needs_the_key_and_a_known_unfinished_job(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    jobs_db = tmp_path / "jobs.sqlite"
    finished = Job(
        job_id="done",
        kind="train",
        status="succeeded",
        categories=["Beauty"],
        experiment_name="e",
        deploy_policy="never",
        created_at="2026-12-05T10:00:00Z",
        finished_at="2026-12-05T10:01:00Z",
        results=[CategoryOutcome(category="Beauty", state="succeeded")],
    )
    store = JobStore(jobs_db)
    store.save(finished)
    store.close()
    client = make_client(paths={"jobs_db": str(jobs_db)}, gateway={"api_key": API_KEY})
    assert client.post("/api/jobs/done/cancel").status_code == 401
    missing = client.post("/api/jobs/nope/cancel", headers=HEADERS)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no job with id 'nope'"})
    conflict = client.post("/api/jobs/done/cancel", headers=HEADERS)
    assert conflict.status_code == 409
    assert conflict.json() == {
        "detail": "job done already succeeded at 2026-12-05T10:01:00Z; nothing to cancel"
    }
    assert client.get("/api/jobs/done", headers=HEADERS).json()["cancel_requested"] is False


def test_a_queued_job_is_cancelled_at_once_and_never_starts(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    jobs_db = tmp_path / "jobs.sqlite"
    holder = FileJobLock(jobs_db.with_name("jobs.sqlite.lock"))  # another gateway running a job
    assert asyncio.run(holder.acquire())
    try:
        client = make_client(paths={"jobs_db": str(jobs_db)}, gateway={"api_key": API_KEY, "job_poll_s": 0.1})
        accepted = client.post(
            "/api/train", json={"categories": ["Beauty"], "deploy": "never"}, headers=HEADERS
        )
        assert accepted.status_code == 202
        job_id = accepted.json()["job_id"]
        time.sleep(1.0)  # ten polls: the lock is taken, so the job waits
        assert client.get(f"/api/jobs/{job_id}", headers=HEADERS).json()["status"] == "queued"
        cancelled = client.post(f"/api/jobs/{job_id}/cancel", headers=HEADERS)
        assert cancelled.status_code == 202
        body = cancelled.json()
        assert (body["status"], body["error"], body["cancel_requested"]) == ("failed", CANCEL_REASON, True)
        assert [outcome["state"] for outcome in body["results"]] == ["failed"]
        # the category is free again: a new job for it is accepted
        again = client.post("/api/train", json={"categories": ["Beauty"], "deploy": "never"}, headers=HEADERS)
        assert again.status_code == 202
        assert client.post(f"/api/jobs/{job_id}/cancel", headers=HEADERS).status_code == 409
        assert client.post(f"/api/jobs/{again.json()['job_id']}/cancel", headers=HEADERS).status_code == 202
    finally:
        asyncio.run(holder.release())
    job_logs = [path for path in (tmp_path / "app0").rglob("*.log") if path.parent.name == "jobs"]
    assert job_logs == []  # no training process was ever started
