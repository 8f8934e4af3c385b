"""Tests that change what TorchServe serves, each on its own TorchServe and gateway subprocess:
a TorchServe outage and recovery, and a training job that ends in a hot swap under load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.contracts.metrics import VersionMetrics
from core.settings import Settings
from serving.archive import ArchiveInfo, archive_version
from serving.deploy_policy import decide_deploy
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.scripted_artifacts import write_scripted_version

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
FIRST_VERSION = "20240101.000000"
JOB_TIMEOUT_S = 600.0


@dataclass
class Stack:
    settings: Settings
    torchserve: TorchServeProcess
    gateway: GatewayProcess
    archive: ArchiveInfo

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.url, timeout=30.0)


@pytest.fixture
def stack(tmp_path: Path, isolated_torchserve: StartTorchServe) -> Iterator[Stack]:
    """A scripted (untrained) Beauty model served by a private TorchServe, with its own gateway."""
    # A generous prediction timeout: this box's 2 cores are shared with training and other suites.
    settings = make_test_settings(tmp_path, gateway={"predict_timeout_s": 10.0})
    write_scripted_version(settings.paths.artifacts, "Beauty", FIRST_VERSION, seed=1)
    archive = archive_version(settings, "Beauty", FIRST_VERSION)
    torchserve = isolated_torchserve(settings, [archive])
    with GatewayProcess(settings, tmp_path / "gateway") as gateway:
        yield Stack(settings, torchserve, gateway, archive)


def predict(client: httpx.Client, value: float = 100.0) -> httpx.Response:
    return client.post("/api/predict", json={"category": "Beauty", "sales": [value] * 14})


def test_torchserve_outage_gives_503_and_recovers_without_a_gateway_restart(stack: Stack) -> None:
    with stack.client() as client:
        assert predict(client).status_code == 200
        assert client.get("/api/health").status_code == 200
        gateway_pid = stack.gateway.process.pid if stack.gateway.process else None

        stack.torchserve.stop()
        down = predict(client)
        assert down.status_code == 503
        assert "model server is unavailable" in down.json()["detail"]
        health = client.get("/api/health")
        assert health.status_code == 503
        assert health.json()["torchserve"]["status"] == "unavailable"
        batch = client.post(
            "/api/predict/batch", json={"items": [{"category": "Beauty", "sales": [1.0] * 14}]}
        )
        assert batch.status_code == 503
        assert client.get("/api/models").status_code == 503
        assert client.get("/api/history/Beauty").status_code == 200  # data routes do not need TorchServe

        stack.torchserve.start()
        again = predict(client)
        assert again.status_code == 200, again.text
        assert again.json()["model_version"] == FIRST_VERSION
        assert client.get("/api/health").status_code == 200
        assert stack.gateway.process is not None and stack.gateway.process.pid == gateway_pid


class PredictionLoop:
    """Predicts in a background thread until stopped; counts answers by status and version."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PredictionLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30.0) as client:
            while not self._stop.is_set():
                try:
                    response = predict(client)
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                self.statuses[response.status_code] += 1
                if response.status_code == 200:
                    self.versions[response.json()["model_version"]] += 1
                else:
                    self.errors.append(response.text)
                time.sleep(0.02)


def wait_for_job(client: httpx.Client, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(status_url).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(1.0)
    raise AssertionError(f"job did not finish in {JOB_TIMEOUT_S:g} s: {job}")


def test_training_job_hot_swaps_the_served_version_without_a_failed_prediction(stack: Stack) -> None:
    with stack.client() as client, PredictionLoop(stack.gateway.url) as loop:
        accepted = client.post(
            "/api/train",
            json={"categories": ["Beauty"], "experiment_name": "gateway-e2e", "deploy": "always"},
        )
        assert accepted.status_code == 202, accepted.text
        running = client.get(accepted.json()["status_url"]).json()
        assert running["status"] in ("queued", "running")
        job = wait_for_job(client, accepted.json()["status_url"])
        time.sleep(1.0)  # a few predictions on the new default
    assert job["status"] == "succeeded", job
    [outcome] = job["results"]
    new_version = outcome["version"]
    assert outcome["state"] == "succeeded"
    assert outcome["deployed"] is True
    assert outcome["served_version_before"] == FIRST_VERSION
    assert new_version > FIRST_VERSION
    assert outcome["metrics"]["version"] == new_version
    test_metrics = outcome["metrics"]["test"]
    assert {"model", "naive", "seasonal_naive", "moving_average", "served"} <= set(test_metrics)
    assert "deploy policy is `always`" in outcome["deploy_reason"]

    # Every prediction during training and the swap was answered, by the old or the new version.
    assert loop.errors == []
    assert set(loop.statuses) == {200}
    assert sum(loop.statuses.values()) > 20
    assert set(loop.versions) <= {FIRST_VERSION, new_version}
    assert loop.versions[new_version] > 0

    with stack.client() as client:
        models = client.get("/api/models").json()["models"]
        assert models[0]["default_version"] == new_version
        assert predict(client).json()["model_version"] == new_version
        metrics = client.get("/metrics").text
        assert 'salescast_gateway_training_jobs_total{outcome="succeeded"} 1.0' in metrics

        # The deploy policy on this job's real metrics: a served version that scores better is kept.
        real = outcome["metrics"]
        better_served = {
            **real,
            "test": {**real["test"], "served": {"rmse": test_metrics["model"]["rmse"] * 0.5}},
        }
        kept = decide_deploy("if_better", VersionMetrics.model_validate(better_served), new_version)
        assert not kept.deploy
        assert "is worse than served" in kept.reason or "not below seasonal-naive" in kept.reason

        # A second job under `if_better`: the served version is now the one trained above, compared on
        # the same test days; the job deploys exactly when the policy says so, with both numbers.
        second = client.post("/api/train", json={"categories": ["Beauty"], "deploy": "if_better"}).json()
        held = wait_for_job(client, second["status_url"])
        assert held["status"] == "succeeded", held
        [result] = held["results"]
        assert result["served_version_before"] == new_version
        assert result["metrics"]["served_version"] == new_version
        expected = decide_deploy("if_better", VersionMetrics.model_validate(result["metrics"]), new_version)
        assert result["deployed"] is expected.deploy
        assert result["deploy_reason"] == expected.reason
        served_now = predict(client).json()["model_version"]
        assert served_now == (result["version"] if expected.deploy else new_version)
        archives = {path.name for path in stack.settings.paths.model_store.glob("*.mar")}
        assert (f"beauty-{result['version']}.mar" in archives) is expected.deploy

    # Job records survive a gateway restart.
    stack.gateway.stop()
    stack.gateway.start()
    with stack.client() as client:
        assert client.get(accepted.json()["status_url"]).json() == job
        listed = [item["job_id"] for item in client.get("/api/jobs").json()["jobs"]]
        assert listed == [second["job_id"], accepted.json()["job_id"]]
