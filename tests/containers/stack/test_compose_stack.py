"""`docker compose up` as a user runs it, checked through the published ports only.

In order: every service up; health, a prediction and a forecast for every category, history; the UI
page; MLflow holding the trainer's runs; training refused without the key and deployed with it (the
served version changes, the previous one stays registered and a rollback to it is instant); a second
deploy unregisters the oldest version cleanly (the clean-up that failed in containers, issue 10);
`docker compose restart` and a second `up` serve the same versions and train nothing.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from gradio_client import Client

from tests.containers.stack.conftest import KEY_FILE, LONG_RUNNING, Stack, Steps

pytestmark = pytest.mark.slow
JOB_TIMEOUT_S = 900.0
RESTART_HEALTH_TIMEOUT_S = 300.0
TRAIN_CATEGORY = "Clothing"  # the category of the failed deploys
EXPERIMENT = "salescast"  # mlflow.experiment in configs/default.yaml


def _categories(stack: Stack) -> list[str]:
    return sorted(stack.served_versions())


def _mlflow_runs(stack: Stack) -> list[dict[str, Any]]:
    with httpx.Client(base_url=stack.mlflow_url, timeout=30.0) as client:
        experiment = client.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": EXPERIMENT}
        ).raise_for_status()
        experiment_id = experiment.json()["experiment"]["experiment_id"]
        found = client.post(
            "/api/2.0/mlflow/runs/search", json={"experiment_ids": [experiment_id], "max_results": 1000}
        ).raise_for_status()
    runs: list[dict[str, Any]] = found.json().get("runs", [])
    return runs


def _run_name(run: dict[str, Any]) -> str:
    return str(run["info"].get("run_name", ""))


def test_every_service_runs_and_the_trainer_finished(stack: Stack, steps: Steps) -> None:
    with steps.step("services: ps"):
        state = stack.compose.states()
    for service in LONG_RUNNING:
        assert state[service][:2] == ("running", "healthy"), state
    assert state["trainer"][0] == "exited" and state["trainer"][2] == 0, state


def test_health_predictions_history_and_forecast_for_every_category(stack: Stack, steps: Steps) -> None:
    with steps.step("health, prediction, history, forecast per category"), stack.gateway() as client:
        health = client.get("/api/health")
        assert health.status_code == 200, health.text
        assert health.json()["torchserve"]["status"] == "ready"
        models = client.get("/api/models").json()["models"]
        categories = sorted(model["category"] for model in models)
        assert categories == ["Beauty", "Clothing", "Electronics"]
        ready = {model["category"]: model["ready_workers"] for model in health.json()["torchserve"]["models"]}
        assert all(ready[category] >= 1 for category in categories), ready
        for model in models:
            category, window = model["category"], model["window_size"]
            prediction = client.post("/api/predict", json={"category": category, "sales": [100.0] * window})
            assert prediction.status_code == 200, prediction.text
            assert prediction.json()["model_version"] == model["default_version"]
            history = client.get(f"/api/history/{category}")
            assert history.status_code == 200, history.text
            assert history.json()["days"] == len(history.json()["sales"]) > window
            forecast = client.get(f"/api/forecast/{category}")
            assert forecast.status_code == 200, forecast.text
            assert forecast.json()["model_version"] == model["default_version"]


def test_the_ui_page_is_served(stack: Stack, steps: Steps) -> None:
    with steps.step("ui page"):
        page = httpx.get(f"{stack.ui_url}/", timeout=30.0)
    assert page.status_code == 200
    assert "salescast" in page.text
    assert stack.api_key not in page.text


def test_mlflow_holds_the_trainers_runs(stack: Stack, steps: Steps) -> None:
    with steps.step("mlflow runs"):
        runs = _mlflow_runs(stack)
    names = [_run_name(run) for run in runs]
    for category in ("Beauty", "Clothing", "Electronics"):
        assert any(name.startswith(f"{category} ") for name in names), names
    assert all(run["info"]["status"] == "FINISHED" for run in runs)


def test_training_without_the_key_is_refused(stack: Stack, steps: Steps) -> None:
    body = {"categories": [TRAIN_CATEGORY]}
    with steps.step("train without / with a wrong key"), stack.gateway() as client:
        missing = client.post("/api/train", json=body)
        wrong = client.post("/api/train", json=body, headers={"X-API-Key": "not-the-key"})
        pin = client.put(f"/api/models/{TRAIN_CATEGORY}/default", json={"version": "1"})
    assert (missing.status_code, wrong.status_code, pin.status_code) == (401, 403, 401)
    assert f"generated an API key in {KEY_FILE}" in stack.compose.logs("gateway")
    assert len(stack.api_key) >= 40


def test_authenticated_training_deploys_a_new_served_version(stack: Stack, steps: Steps) -> None:
    before = stack.served_versions()
    with steps.step(f"train {TRAIN_CATEGORY} through the API, deploy always"), stack.gateway() as client:
        job = _train_and_deploy(client, stack.api_key)
    assert job["status"] == "succeeded", job
    [outcome] = job["results"]
    assert (outcome["state"], outcome["deployed"], outcome["warnings"]) == ("succeeded", True, []), outcome
    assert outcome["served_version_before"] == before[TRAIN_CATEGORY]
    after = stack.served_versions()
    assert after[TRAIN_CATEGORY] == outcome["version"] != before[TRAIN_CATEGORY]
    assert {k: v for k, v in after.items() if k != TRAIN_CATEGORY} == {
        k: v for k, v in before.items() if k != TRAIN_CATEGORY
    }
    with stack.gateway() as client:
        [model] = [m for m in client.get("/api/models").json()["models"] if m["category"] == TRAIN_CATEGORY]
        window = model["window_size"]
        answer = client.post("/api/predict", json={"category": TRAIN_CATEGORY, "sales": [100.0] * window})
    assert answer.json()["model_version"] == outcome["version"]
    # the previous version stays registered (torchserve.loaded_versions 2): a rollback is instant
    both = sorted([before[TRAIN_CATEGORY], outcome["version"]])
    assert stack.registered_versions(model["model_name"]) == both
    key = {"X-API-Key": stack.api_key}
    with steps.step("roll back to the previous version and forward again"), stack.gateway() as client:
        path = f"/api/models/{TRAIN_CATEGORY}/default"
        back = client.put(path, json={"version": before[TRAIN_CATEGORY]}, headers=key)
        answered = client.post("/api/predict", json={"category": TRAIN_CATEGORY, "sales": [100.0] * window})
        forward = client.put(path, json={"version": outcome["version"]}, headers=key)
    assert back.status_code == 200 and back.json()["default_version"] == before[TRAIN_CATEGORY], back.text
    assert answered.json()["model_version"] == before[TRAIN_CATEGORY]
    assert forward.status_code == 200 and stack.served_versions()[TRAIN_CATEGORY] == outcome["version"]


def test_a_second_deploy_unregisters_the_oldest_version(stack: Stack, steps: Steps) -> None:
    with stack.gateway() as client:
        [model] = [m for m in client.get("/api/models").json()["models"] if m["category"] == TRAIN_CATEGORY]
    registered = stack.registered_versions(model["model_name"])
    with steps.step(f"train {TRAIN_CATEGORY} again, deploy always"), stack.gateway() as client:
        job = _train_and_deploy(client, stack.api_key)
        [model] = [m for m in client.get("/api/models").json()["models"] if m["category"] == TRAIN_CATEGORY]
    [outcome] = job["results"]
    assert (job["status"], outcome["deployed"], outcome["warnings"]) == ("succeeded", True, []), job
    # TorchServe keeps two versions (torchserve.loaded_versions); every archived one stays listed
    # in /api/models, so an unregistered version can still be made the default again
    assert stack.registered_versions(model["model_name"]) == [registered[-1], outcome["version"]]
    listed = sorted(v["version"] for v in model["versions"])
    assert set(registered) | {outcome["version"]} <= set(listed)
    assert stack.served_versions()[TRAIN_CATEGORY] == outcome["version"]


def test_the_bucket_alone_restores_every_served_version(stack: Stack, steps: Steps) -> None:
    """SeaweedFS (auth on) holds every champion: `salescast models pull` into an empty folder brings
    each served version back, SHA-256 checked; the generated S3 secret is in no service's log."""
    served = stack.served_versions()
    with steps.step("salescast models pull into an empty model store (the bucket alone)"):
        pulled = stack.compose.run(
            "exec",
            "-T",
            "-e",
            "SALESCAST_PATHS__MODEL_STORE=/tmp/restored",
            "gateway",
            "salescast",
            "models",
            "pull",
        ).stdout
    for category, version in served.items():
        assert f"{category}: version {version}" in pulled, pulled
    credentials = stack.compose.run("exec", "-T", "gateway", "cat", "/srv/secrets/aws_credentials").stdout
    [secret] = [line.split("=", 1)[1].strip() for line in credentials.splitlines() if "secret" in line]
    assert len(secret) >= 32
    logs = stack.compose.run("logs", "--no-color").stdout
    assert secret not in logs + pulled


def test_the_ui_holds_the_key_server_side(stack: Stack, steps: Steps) -> None:
    with steps.step("ui train tab: recent jobs through the UI (needs the key)"):
        client = Client(stack.ui_url, verbose=False, analytics_enabled=False, download_files=False)
        table, message = client.predict(api_name="/recent_jobs")
    assert message == ""
    statuses = [row[2] for row in table["data"]]
    assert statuses and statuses[0] == "succeeded", table


def test_restart_serves_the_same_versions_and_trains_nothing(stack: Stack, steps: Steps) -> None:
    before, runs = stack.served_versions(), len(_mlflow_runs(stack))
    with steps.step("docker compose restart"):
        stack.compose.run("restart", timeout=600, log="restart")
    with steps.step("healthy again after restart"):
        stack.compose.wait_healthy(LONG_RUNNING, RESTART_HEALTH_TIMEOUT_S)
        stack.wait_until_healthy(RESTART_HEALTH_TIMEOUT_S)
    assert stack.served_versions() == before
    assert len(_mlflow_runs(stack)) == runs


def test_second_up_serves_the_same_versions_and_trains_nothing(stack: Stack, steps: Steps) -> None:
    before, runs = stack.served_versions(), len(_mlflow_runs(stack))
    with steps.step("down (volumes kept)"):
        stack.compose.run("down", timeout=600, log="down-keep")
    with steps.step("second up (docker compose up -d --wait: models already archived)"):
        stack.compose.run("up", "-d", "--wait", "--wait-timeout", "600", timeout=660, log="up-second")
    assert stack.served_versions() == before
    assert len(_mlflow_runs(stack)) == runs
    trainer = stack.compose.logs("trainer")
    assert "0 trained or archived, 3 already archived" in trainer.splitlines()[-1], trainer[-2000:]


def _train_and_deploy(client: httpx.Client, key: str) -> dict[str, Any]:
    """Start a training job of TRAIN_CATEGORY with deploy `always` and wait until it ends."""
    accepted = client.post(
        "/api/train", json={"categories": [TRAIN_CATEGORY], "deploy": "always"}, headers={"X-API-Key": key}
    )
    assert accepted.status_code == 202, accepted.text
    return _wait_for_job(client, accepted.json()["status_url"], key)


def _wait_for_job(client: httpx.Client, status_url: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(status_url, headers={"X-API-Key": key}).json()
        if job.get("status") in ("succeeded", "failed"):
            return job
        time.sleep(2.0)
    raise AssertionError(f"job did not finish in {JOB_TIMEOUT_S:g} s: {job}")
