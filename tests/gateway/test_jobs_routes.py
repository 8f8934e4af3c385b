"""Train/job routes in-process: validation before anything starts, 409/429, restart recovery, and the
hand-off to the training process (a job spec file, `salescast train --job-spec`)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.artifacts import version_dir
from core.contracts.job_spec import read_job_spec, write_job_spec
from core.contracts.manifest import read_manifest
from core.datasets import DatasetStore
from core.sales_data import file_sha256
from core.settings import Settings
from gateway.errors import ConflictError, QueueFullError
from gateway.job_runner import JobRunner, job_spec, training_command, training_data
from gateway.job_store import RESTART_REASON, JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas.jobs import CategoryOutcome, Job
from salescast.cli.main import build_parser
from tests.conftest import make_test_settings
from tests.training.synthetic import write_transactions

JOB_TIMEOUT_S = 600.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"categories": []}, "categories: List should have at least 1 item"),
        (
            {"categories": ["Toys", "Beauty"]},
            "unknown categories: Toys; known: Beauty, Clothing, Electronics",
        ),
        ({"categories": ["Beauty"], "deploy": "sometimes"}, "deploy: Input should be"),
        ({"categories": "Beauty"}, "categories: Input should be a valid list"),
        ({"categories": ["Beauty"], "experiment_name": ""}, "experiment_name: String should have at least"),
    ],
)
def test_train_rejects_bad_requests_before_anything_starts(
    client: TestClient, body: dict[str, object], expected: str
) -> None:
    response = client.post("/api/train", json=body)
    assert response.status_code == 422
    assert expected in response.json()["detail"]
    assert client.get("/api/jobs").json() == {"jobs": []}


def test_same_category_twice_is_409(client: TestClient) -> None:
    first = client.post("/api/train", json={"categories": ["beauty"], "deploy": "never"})
    assert first.status_code == 202
    accepted = first.json()
    assert accepted["status_url"] == f"/api/jobs/{accepted['job_id']}"
    second = client.post("/api/train", json={"categories": ["Beauty", "Clothing"]})
    assert second.status_code == 409
    assert second.json() == {"detail": "already queued or training: Beauty; wait for that job to finish"}
    job = client.get(accepted["status_url"]).json()
    assert job["categories"] == ["Beauty"]
    assert job["deploy_policy"] == "never"
    assert job["status"] in ("queued", "running")
    listed = client.get("/api/jobs").json()["jobs"]
    assert [item["job_id"] for item in listed] == [accepted["job_id"]]


def _runner(settings: Settings, store: JobStore | None = None) -> JobRunner:
    store = store or JobStore(settings.paths.jobs_db)
    registry = ModelRegistry(settings, None)  # type: ignore[arg-type]
    return JobRunner(settings, store, registry, GatewayMetrics(), DatasetStore(settings))


def test_queue_full_is_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, gateway={"job_queue_size": 2, "retry_after_s": 17})

    async def scenario() -> None:
        runner = _runner(settings)  # worker not started: nothing leaves the queue
        runner.submit("train", ["Beauty"], "e", "never")
        runner.submit("train", ["Clothing"], "e", "never")
        with pytest.raises(QueueFullError) as full:
            runner.submit("train", ["Electronics"], "e", "never")
        assert full.value.headers == {"Retry-After": "17"}
        assert full.value.status_code == 429
        with pytest.raises(ConflictError):
            runner.submit("train", ["Clothing"], "e", "never")

    asyncio.run(scenario())


def test_a_job_is_handed_over_as_a_spec_file_and_nothing_else(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, gateway={"api_key": "secret-key-0123456789"})
    sha256 = file_sha256(settings.data.path)
    job = Job(
        job_id="0123abcd",
        kind="train",
        status="queued",
        categories=["Beauty", "Clothing"],
        experiment_name="exp",
        deploy_policy="if_better",
        created_at="2026-11-26T10:00:00Z",
        dataset_id="default",
        dataset_sha256=sha256,
        results=[],
    )
    data = training_data(DatasetStore(settings).source("default"), sha256)
    served = {"Beauty": "20261125.090000", "Electronics": "20261125.090000"}
    spec = job_spec(job, settings, data, served, tmp_path / "p.json", tmp_path / "r.json")
    path = write_job_spec(tmp_path / "job.spec.json", spec)
    assert read_job_spec(path) == spec
    assert (spec.job_id, spec.categories, spec.experiment, spec.deploy) == (
        "0123abcd",
        ["Beauty", "Clothing"],
        "exp",
        "if_better",
    )
    assert spec.compare_versions == {"Beauty": "20261125.090000"}  # only categories being trained
    assert spec.dataset is not None
    assert (spec.dataset.path, spec.dataset.dataset_id, spec.dataset.sha256) == (
        settings.data.path,
        "default",
        sha256,
    )
    assert spec.dataset.columns.category == settings.data.category_column
    assert (spec.progress_path, spec.result_path) == (tmp_path / "p.json", tmp_path / "r.json")
    # every setting travels typed, except the gateway's key, which the training process never uses
    assert spec.settings.with_overrides({"gateway": {"api_key": "secret-key-0123456789"}}) == settings
    assert "secret-key" not in path.read_text(encoding="utf-8")

    command = training_command(path)
    assert command == [sys.executable, "-m", "salescast", "train", "--job-spec", str(path)]
    args = build_parser().parse_args(command[3:])
    assert args.job_spec == path and args.config is None and args.categories is None


@pytest.mark.slow
def test_a_queued_job_trains_in_a_process_that_reads_only_its_spec(
    tmp_path: Path, test_settings: Settings
) -> None:
    """The job's settings exist only in this test's memory: the process can learn them only from the
    spec (artifacts under tmp_path, one epoch, the job's id in its log)."""
    csv = write_transactions(tmp_path / "sales.csv", {"Toys": 120})
    mlflow = test_settings.mlflow
    settings = make_test_settings(
        tmp_path,
        data={"path": str(csv)},
        training={"max_epochs": 1},
        mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location},
        gateway={"job_poll_s": 0.2},
    )
    store = JobStore(settings.paths.jobs_db)
    data = training_data(DatasetStore(settings).source("default"), file_sha256(csv))

    async def scenario() -> Job:
        runner = _runner(settings, store)
        await runner.start()
        try:
            job = runner.submit("train", ["Toys"], "spec-e2e", "never", data)
            deadline = time.monotonic() + JOB_TIMEOUT_S
            while (current := store.get(job.job_id)) is not None and current.status in ("queued", "running"):
                assert time.monotonic() < deadline, f"job did not finish in {JOB_TIMEOUT_S:g} s: {current}"
                await asyncio.sleep(0.5)
            assert current is not None
            return current
        finally:
            await runner.stop()

    job = asyncio.run(scenario())
    assert job.status == "succeeded", job
    [outcome] = job.results
    assert (outcome.state, outcome.epoch, outcome.deployed) == ("succeeded", 1, False)
    assert outcome.deploy_reason is not None and "deploy policy is `never`" in outcome.deploy_reason
    assert outcome.version is not None
    manifest = read_manifest(version_dir(settings, "Toys", outcome.version))
    assert (manifest.dataset_id, manifest.data_sha256) == ("default", file_sha256(csv))
    jobs_dir = settings.paths.run / "jobs"
    assert f"job={job.job_id} categories=Toys" in (jobs_dir / f"{job.job_id}.log").read_text()
    assert sorted(path.name for path in jobs_dir.iterdir()) == [
        f"{job.job_id}.log"
    ]  # spec, progress, result read and removed


def test_jobs_running_when_the_gateway_died_are_failed_on_start(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    jobs_db = tmp_path / "shared-jobs.sqlite"
    store = JobStore(jobs_db)
    store.save(
        Job(
            job_id="interrupted",
            kind="train",
            status="running",
            categories=["Beauty"],
            experiment_name="exp",
            deploy_policy="if_better",
            created_at="2026-11-26T10:00:00Z",
            results=[CategoryOutcome(category="Beauty", state="training")],
        )
    )
    store.close()
    client = make_client(paths={"jobs_db": str(jobs_db)})
    job = client.get("/api/jobs/interrupted").json()
    assert job["status"] == "failed"
    assert job["error"] == RESTART_REASON
    assert job["results"][0]["state"] == "failed"
    metrics = client.get("/metrics").text
    assert 'salescast_gateway_training_jobs_total{outcome="failed"} 1.0' in metrics


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/jobs/one")
    client.get("/api/jobs/two")
    client.post("/api/predict", json={"category": "Beauty", "sales": [1.0]})
    deadline = time.monotonic() + 5
    text = client.get("/metrics").text
    while 'route="/api/predict"' not in text and time.monotonic() < deadline:
        text = client.get("/metrics").text
    assert (
        'salescast_gateway_requests_total{method="GET",route="/api/jobs/{job_id}",status="404"} 2.0' in text
    )
    assert 'route="/api/predict",status="503"' in text
    assert "salescast_gateway_request_seconds_bucket" in text


def test_a_running_outcome_says_a_short_history_trains_its_classical_part_only() -> None:
    """The progress file's `classical_only` reaches the job's record (what `GET /api/jobs/{id}` and the
    Train tab show) and stays once later events (its deploy) no longer repeat it."""
    from core.contracts.job_progress import CategoryProgress
    from gateway.job_runner import _live

    outcome = CategoryOutcome(category="Launched", state="training")
    told = _live(outcome, CategoryProgress(category="Launched", state="training", classical_only=True))
    assert (told.classical_only, told.max_epochs, told.epoch) == (True, None, None)
    later = _live(told, CategoryProgress(category="Launched", state="deploying", version="v1"))
    assert (later.state, later.classical_only) == ("deploying", True)
    assert _live(outcome, CategoryProgress(category="Launched", state="training")).classical_only is None
