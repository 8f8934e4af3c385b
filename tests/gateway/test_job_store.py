"""The SQLite job store: records survive reopening; running jobs of a dead gateway become failed."""

from __future__ import annotations

from pathlib import Path

from gateway.job_store import RESTART_REASON, JobStore
from gateway.schemas.jobs import CategoryOutcome, Job


def make_job(job_id: str, status: str, created_at: str) -> Job:
    return Job(
        job_id=job_id,
        kind="train",
        status=status,
        categories=["Beauty", "Clothing"],
        experiment_name="exp",
        deploy_policy="if_better",
        created_at=created_at,
        results=[
            CategoryOutcome(category="Beauty", state="succeeded", version="20261126.101500"),
            CategoryOutcome(category="Clothing", state="training"),
        ],
    )


def test_records_survive_reopening(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = make_job("a", "succeeded", "2026-11-26T10:00:00Z")
    store.save(job)
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite")
    assert reopened.get("a") == job
    assert reopened.get("missing") is None


def test_recent_is_newest_first_and_limited(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    for index in range(5):
        store.save(make_job(f"j{index}", "succeeded", f"2026-11-26T10:00:0{index}Z"))
    assert [job.job_id for job in store.recent(3)] == ["j4", "j3", "j2"]


def test_running_jobs_are_failed_at_start_up(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    store.save(make_job("run", "running", "2026-11-26T10:00:00Z"))
    store.save(make_job("done", "succeeded", "2026-11-26T10:00:01Z"))
    failed = store.fail_interrupted()
    assert [job.job_id for job in failed] == ["run"]
    job = store.get("run")
    assert job is not None
    assert job.status == "failed"
    assert job.error == RESTART_REASON
    assert job.finished_at is not None
    assert [outcome.state for outcome in job.results] == ["succeeded", "failed"]
    assert job.results[1].error == RESTART_REASON
    assert store.get("done") == make_job("done", "succeeded", "2026-11-26T10:00:01Z")
