"""Train/job routes in-process: validation before anything starts, 409/429, restart recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.datasets import DatasetStore
from core.settings import Settings
from gateway.errors import ConflictError, QueueFullError
from gateway.job_runner import JobRunner, training_command
from gateway.job_store import RESTART_REASON, JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas.jobs import CategoryOutcome, Job
from tests.conftest import make_test_settings


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


def _runner(settings: Settings) -> JobRunner:
    store = JobStore(settings.paths.jobs_db)
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


def test_training_command_runs_the_cli_out_of_process(tmp_path: Path) -> None:
    command = training_command(
        tmp_path / "c.yaml",
        ["Beauty", "Clothing"],
        "exp",
        "if_better",
        {"Beauty": "20261125.090000"},
        tmp_path / "r.json",
        tmp_path / "p.json",
    )
    assert command[1:5] == ["-m", "salescast", "--config", str(tmp_path / "c.yaml")]
    assert command[5:] == [
        "train",
        "--category",
        "Beauty",
        "--category",
        "Clothing",
        "--experiment",
        "exp",
        "--deploy",
        "if_better",
        "--result-json",
        str(tmp_path / "r.json"),
        "--progress-json",
        str(tmp_path / "p.json"),
        "--compare-version",
        "Beauty=20261125.090000",
    ]


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
