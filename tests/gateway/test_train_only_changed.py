"""`only_changed` and `shared_network` of POST /api/train_all and /api/train: validated, kept with the
job, handed to the training process in its spec, and a category the job leaves alone is `unchanged`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.artifacts import list_versions
from core.settings import Settings
from gateway.job_runner import job_spec
from gateway.schemas.jobs import Job
from tests.conftest import make_test_settings
from tests.training.synthetic import write_transactions
from training.pipeline import train_categories

JOB_TIMEOUT_S = 600.0


ROUTES = [("/api/train_all", {}), ("/api/train", {"categories": ["Beauty"]})]


@pytest.mark.parametrize(("path", "base"), ROUTES)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"shared_network": "../../etc"}, "shared_network: String should match pattern"),
        ({"shared_network": ""}, "shared_network: String should match pattern"),
        ({"only_changed": "sometimes"}, "only_changed: Input should be a valid boolean"),
    ],
)
def test_bad_options_are_422_before_anything_starts(
    client: TestClient, path: str, base: dict[str, object], body: dict[str, object], expected: str
) -> None:
    response = client.post(path, json={**base, **body})
    assert response.status_code == 422
    assert expected in response.json()["detail"]
    assert client.get("/api/jobs").json() == {"jobs": []}


@pytest.mark.parametrize(("path", "base"), ROUTES)
def test_the_options_are_kept_with_the_job_and_travel_in_its_spec(
    client: TestClient, tmp_path: Path, path: str, base: dict[str, object]
) -> None:
    options = {"only_changed": True, "shared_network": "0123456789abcdef", "deploy": "never"}
    accepted = client.post(path, json={**base, **options})
    assert accepted.status_code == 202
    job = Job.model_validate(client.get(accepted.json()["status_url"]).json())
    assert (job.only_changed, job.shared_network) == (True, "0123456789abcdef")
    settings = make_test_settings(tmp_path)
    spec = job_spec(job, settings, None, {}, tmp_path / "p.json", tmp_path / "r.json")
    assert (spec.only_changed, spec.shared_network) == (True, "0123456789abcdef")


@pytest.mark.slow
def test_a_job_reports_the_categories_it_left_alone_as_unchanged(
    tmp_path: Path, test_settings: Settings, make_client: Callable[..., TestClient]
) -> None:
    """The job's process finds nothing changed: it trains nothing and the job still succeeds."""
    csv = write_transactions(tmp_path / "sales.csv", {"Toys": 120})
    mlflow = test_settings.mlflow
    overrides: dict[str, dict[str, Any]] = {
        "data": {"path": str(csv)},
        "paths": {"artifacts": str(tmp_path / "artifacts")},
        "mlflow": {"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location},
        "gateway": {"job_poll_s": 0.2},
    }
    settings = make_test_settings(tmp_path / "train", **overrides)
    [toys] = train_categories(["Toys"], "only-changed-job", settings)
    assert toys.status == "succeeded", toys.error
    client = make_client(**overrides)
    accepted = client.post("/api/train_all", json={"only_changed": True, "deploy": "never"})
    assert accepted.status_code == 202
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while (job := client.get(accepted.json()["status_url"]).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job did not finish in {JOB_TIMEOUT_S:g} s: {job}"
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    [outcome] = job["results"]
    assert (outcome["category"], outcome["state"]) == ("Toys", "unchanged")
    assert (outcome["version"], outcome["error"], outcome["failed_step"]) == (toys.version, None, None)
    assert list_versions(settings, "Toys") == [toys.version]
