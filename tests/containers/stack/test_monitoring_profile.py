"""The compose `monitoring` profile beside the running stack: Prometheus and Alertmanager
(Dockerfile.prometheus) start, Prometheus finds every gateway and TorchServe container by their service
names, scrapes them and Alertmanager, loads the alert rules and knows its Alertmanager. Grafana's image
comes from Docker Hub, which these machines do not reach: it is left out
(tests/monitoring/test_grafana_dashboard.py checks its dashboard against a real Prometheus instead)."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx

from salescast.bench.isolation import LOOPBACK, free_port
from tests.containers.stack.conftest import BUILD_TIMEOUT_S, Compose, Stack, Steps

SERVICES = ("prometheus", "alertmanager")
VOLUMES = ("prometheus", "alertmanager", "grafana")  # the monitoring profile's, in docker-compose.yml
UP_TIMEOUT_S = 120
SCRAPE_TIMEOUT_S = 90.0  # Prometheus scrapes every 15 s and resolves service names every 30 s
RULES_TIMEOUT_S = 60.0  # Prometheus evaluates the rules every 15 s; a rule is "unknown" until its first one
SCRAPED_JOBS = {"gateway", "torchserve", "alertmanager", "prometheus"}
ALERT_RULES = 6


def _get(base: str, path: str, **params: str) -> Any:
    answer = httpx.get(f"{base}{path}", params=params, timeout=10.0)
    answer.raise_for_status()
    return answer.json()["data"]


def _jobs_up(base: str) -> dict[str, float]:
    result = _get(base, "/api/v1/query", query="min by (job) (up)")["result"]
    return {series["metric"]["job"]: float(series["value"][1]) for series in result}


def _rules_once_evaluated(base: str) -> list[dict[str, Any]]:
    """The alert rules after every one has been evaluated once: before that Prometheus reports them
    as `unknown`, which says nothing about whether they are sound."""
    deadline = time.monotonic() + RULES_TIMEOUT_S
    while True:
        rules = [rule for group in _get(base, "/api/v1/rules")["groups"] for rule in group["rules"]]
        if all(rule["health"] != "unknown" for rule in rules) or time.monotonic() >= deadline:
            return rules
        time.sleep(2.0)


def test_prometheus_and_alertmanager_monitor_the_stack(stack: Stack, steps: Steps) -> None:
    port = free_port()
    monitoring = Compose(
        stack.compose.project,
        {**stack.compose.env, "SALESCAST_PROMETHEUS_PUBLISH_PORT": str(port)},
        stack.compose.log_dir,
    )
    profile = ("--profile", "monitoring")
    base = f"http://{LOOPBACK}:{port}"
    try:
        with steps.step("monitoring: build (docker compose --profile monitoring build prometheus)"):
            monitoring.run(*profile, "build", "prometheus", timeout=BUILD_TIMEOUT_S, log="monitoring-build")
        with steps.step("monitoring: up -d --wait prometheus alertmanager"):
            up = ("up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT_S), *SERVICES)
            monitoring.run(*profile, *up, timeout=UP_TIMEOUT_S + 60, log="monitoring-up")
        with steps.step("monitoring: every target scraped and up"):
            deadline = time.monotonic() + SCRAPE_TIMEOUT_S
            jobs = _jobs_up(base)
            while jobs != dict.fromkeys(SCRAPED_JOBS, 1.0) and time.monotonic() < deadline:
                time.sleep(2.0)
                jobs = _jobs_up(base)
            assert jobs == dict.fromkeys(SCRAPED_JOBS, 1.0), jobs
        rules = _rules_once_evaluated(base)
        assert sum(rule["type"] == "alerting" for rule in rules) == ALERT_RULES, rules
        health = {rule["name"]: (rule["health"], rule.get("lastError", "")) for rule in rules}
        assert all(state == "ok" for state, _ in health.values()), health
        (alertmanager,) = _get(base, "/api/v1/alertmanagers")["activeAlertmanagers"]
        assert ":9093/" in alertmanager["url"], alertmanager
        jobs_gauge = _get(base, "/api/v1/query", query="max by (outcome) (salescast_training_jobs)")["result"]
        assert {series["metric"]["outcome"] for series in jobs_gauge} == {
            "queued",
            "running",
            "succeeded",
            "failed",
        }
    finally:
        for service in SERVICES:
            monitoring.run(*profile, "logs", "--no-color", service, check=False, log=f"logs-{service}")
        with steps.step("monitoring: rm -fsv prometheus alertmanager"):
            monitoring.run(*profile, "rm", "-f", "-s", "-v", *SERVICES, check=False, log="monitoring-rm")
            # `down -v` without the profile leaves the profile's named volumes behind (grafana's too:
            # `up` creates every volume the profile declares).
            volumes = [f"{monitoring.project}_{volume}" for volume in VOLUMES]
            subprocess.run(["docker", "volume", "rm", "-f", *volumes], capture_output=True, check=False)
