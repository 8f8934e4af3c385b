"""A real Prometheus (Debian's binary) scrapes a real gateway subprocess with the repository's rule file:
the gateway's exposition parses, the job store's gauges arrive with their values, and with no
TorchServe running TorchServeDown is pending while GatewayDown is not."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core import supervisor
from core.net import http_url
from gateway.job_store import JobStore
from gateway.schemas.jobs import CategoryOutcome, Job
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.monitoring.test_prometheus_config import PROMETHEUS_CONFIG, RULES, load_yaml, tool
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

PROMETHEUS_START_TIMEOUT_S = 60.0
QUERY_TIMEOUT_S = 60.0  # scrapes and rule evaluations every second in this test
STOP_TIMEOUT_S = 10.0
BEAUTY_DATA_END = datetime(2026, 11, 25, tzinfo=timezone.utc).timestamp()


def prometheus_config(gateway: str, torchserve: str) -> dict[str, Any]:
    """The repository's config with the compose DNS names replaced by loopback targets, scraping and
    evaluating every second, without Alertmanager."""
    config: dict[str, Any] = load_yaml(PROMETHEUS_CONFIG)
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config.pop("alerting")
    targets = {"gateway": gateway, "torchserve": torchserve}
    config["scrape_configs"] = [
        {
            "job_name": job["job_name"],
            "metrics_path": job["metrics_path"],
            "static_configs": [{"targets": [targets[job["job_name"]]]}],
        }
        for job in config["scrape_configs"]
        if job["job_name"] in targets
    ]
    return config


def wait_for(base: str, query: str, expected: Any) -> Any:
    """Poll `query` until `expected(result)` holds; fail with the last result after QUERY_TIMEOUT_S."""
    deadline = time.monotonic() + QUERY_TIMEOUT_S
    result: Any = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5.0)
            result = answer.json()["data"]["result"]
        except (httpx.HTTPError, KeyError, ValueError):
            result = None
        if result is not None and expected(result):
            return result
        time.sleep(0.5)
    pytest.fail(f"{query}: expected condition not met within {QUERY_TIMEOUT_S} s; last result {result}")


def ready(base: str) -> str | None:
    """None once Prometheus answers ready, else why not (the supervisor's probe contract)."""
    answer = httpx.get(f"{base}/-/ready", timeout=2.0)
    return None if answer.status_code == 200 else f"/-/ready answered {answer.status_code}"


def alert_states(result: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(series["metric"]["alertname"], series["metric"]["alertstate"]) for series in result}


def values(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {series["metric"].get(label, ""): float(series["value"][1]) for series in result}


def test_prometheus_scrapes_the_gateway_and_evaluates_the_rules(tmp_path: Path) -> None:
    prometheus = tool("prometheus", "prometheus")
    settings = make_test_settings(tmp_path / "gateway")
    store = JobStore(settings.paths.jobs_db)
    store.save(
        Job(
            job_id="done",
            kind="train",
            status="succeeded",
            categories=["Beauty"],
            experiment_name="exp",
            deploy_policy="if_better",
            created_at="2026-11-26T10:15:00Z",
            finished_at="2026-11-26T10:15:42Z",
            results=[
                CategoryOutcome(
                    category="Beauty",
                    state="succeeded",
                    seconds=41.8,
                    metrics={"window_size": 14, "test_end": "2026-11-25"},
                )
            ],
        )
    )
    store.close()
    gateway = f"{settings.gateway.host}:{settings.gateway.port}"
    torchserve = f"127.0.0.1:{settings.torchserve.metrics_port}"  # nothing listens there
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(prometheus_config(gateway, torchserve)), encoding="utf-8")
    port = free_port()
    base = http_url("127.0.0.1", port)

    with GatewayProcess(settings, tmp_path / "logs"):
        process = supervisor.start_process(
            "prometheus",
            [
                prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            tmp_path / "logs" / "prometheus.log",
        )
        try:
            supervisor.wait_ready(process, lambda: ready(base), PROMETHEUS_START_TIMEOUT_S)
            up = wait_for(base, "up", lambda result: len(result) == 2)
            assert values(up, "job") == {"gateway": 1.0, "torchserve": 0.0}
            ends = wait_for(base, "max by (category) (salescast_training_data_end_timestamp_seconds)", bool)
            assert values(ends, "category") == {"Beauty": BEAUTY_DATA_END}
            jobs = wait_for(base, "max by (outcome) (salescast_training_jobs)", bool)
            assert values(jobs, "outcome") == {"queued": 0.0, "running": 0.0, "succeeded": 1.0, "failed": 0.0}
            # Before the first scrapes both targets are absent, so both alerts are pending for an instant;
            # once scraped, only TorchServe's stays.
            wait_for(base, "ALERTS", lambda result: alert_states(result) == {("TorchServeDown", "pending")})
        finally:
            process.stop(STOP_TIMEOUT_S)
