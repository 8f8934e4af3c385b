"""The Kubernetes CronJob example (deploy/kubernetes/examples/retrain-cronjob.yaml): valid for the
pinned Kubernetes API, aimed at the gateway Service and the API key Secret the manifests create, and
its script really talks to a gateway: a refused request fails the Job with the gateway's message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "deploy" / "kubernetes" / "examples" / "retrain-cronjob.yaml"
GATEWAY_SERVICE = REPO_ROOT / "deploy" / "kubernetes" / "base" / "gateway" / "service.yaml"
KUBERNETES_VERSION = "1.31"


def _cronjob() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return document


def _container() -> dict[str, Any]:
    container: dict[str, Any] = _cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_cronjob_is_valid_and_never_overlaps() -> None:
    cronjob = _cronjob()
    kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid" and cronjob["spec"]["timeZone"]


def test_it_calls_the_gateway_service_with_the_api_key_secret() -> None:
    env = {item["name"]: item for item in _container()["env"]}
    service = yaml.safe_load(GATEWAY_SERVICE.read_text(encoding="utf-8"))
    port = service["spec"]["ports"][0]["port"]
    assert env["GATEWAY_URL"]["value"] == f"http://{service['metadata']['name']}:{port}"
    assert env["SALESCAST_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "salescast-api-key",
        "key": "api-key",
    }


def test_a_refused_request_fails_the_job_with_the_gateways_message(gateway_url: str) -> None:
    container = _container()
    script = container["args"][0]
    environment = {
        **os.environ,
        "GATEWAY_URL": gateway_url,
        "SALESCAST_API_KEY": "not-the-key",
        "DEPLOY": "sometimes",  # not a deploy policy: the gateway refuses before filing anything
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result
    assert "train_all answered 422" in result.stdout and "deploy" in result.stdout, result.stdout
