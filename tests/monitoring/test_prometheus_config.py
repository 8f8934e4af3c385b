"""The Prometheus and Alertmanager configuration under monitoring/: valid for promtool and amtool, every
alert unit-tested, firing and quiet, and every metric a rule reads exported by the gateway (or TorchServe)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.datasets import DatasetStore
from gateway.job_store import JobStore
from gateway.metrics import GatewayMetrics
from gateway.served_metrics import ServedVersionsCollector
from gateway.training_metrics import TrainingMetricsCollector
from tests.conftest import REPO_ROOT, make_test_settings

MONITORING = REPO_ROOT / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus" / "prometheus.yml"
RULES = MONITORING / "prometheus" / "rules" / "salescast.yml"
RULE_TESTS = MONITORING / "prometheus" / "tests" / "salescast_test.yml"
ALERTMANAGER_CONFIG = MONITORING / "alertmanager" / "alertmanager.yml"
COMMAND_TIMEOUT_S = 120

TORCHSERVE_METRIC_PREFIX = "ts_"  # TorchServe's own metrics API names
PROMETHEUS_NAMES = {"up"}  # what Prometheus records about each scrape
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}); .ci/run installs it in CI")
    return path


def run(*command: str) -> str:
    """Run a checker from the repository root; fail with its whole output when it rejects the file."""
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers left once strings, label matchers, ranges
    and grouping clauses are removed, that are neither functions nor keywords."""
    text = _STRINGS.sub('""', expr)
    for pattern in (_MATCHERS, _RANGES, _GROUPING):
        text = pattern.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        if text[match.end() :].lstrip().startswith("(") or match.group() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def gateway_sample_names(tmp_path: Path) -> set[str]:
    """Every sample name the gateway's registry can export, the job store's gauges included."""
    settings = make_test_settings(tmp_path)
    JobStore(settings.paths.jobs_db).close()
    collector = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings))
    try:
        families = list(GatewayMetrics(collector, ServedVersionsCollector()).registry.collect())
    finally:
        collector.close()
    return {family.name + suffix for family in families for suffix in _SAMPLE_SUFFIXES[family.type]}


def test_prometheus_config_and_its_rule_files_pass_promtool_check_config() -> None:
    output = run(tool("promtool", "prometheus"), "check", "config", str(PROMETHEUS_CONFIG))
    assert "1 rule files found" in output


def test_rules_pass_promtool_check_rules() -> None:
    output = run(tool("promtool", "prometheus"), "check", "rules", str(RULES))
    assert f"{len(alert_rules())} rules found" in output


def test_rule_unit_tests_pass_promtool_test_rules() -> None:
    output = run(tool("promtool", "prometheus"), "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output


def test_alertmanager_config_passes_amtool() -> None:
    output = run(tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER_CONFIG))
    assert "SUCCESS" in output


def test_every_alert_has_for_severity_annotations_and_a_firing_and_a_quiet_test() -> None:
    cases: dict[str, list[bool]] = {}
    for test in load_yaml(RULE_TESTS)["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    rules = alert_rules()
    assert len(rules) >= 6
    for rule in rules:
        name = rule["alert"]
        assert rule.get("for"), f"{name} has no `for:`"
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        assert True in cases.get(name, []), f"{name} has no promtool test where it fires"
        assert False in cases.get(name, []), f"{name} has no promtool test where it stays quiet"


def test_every_metric_the_rules_read_is_exported_by_the_gateway_or_torchserve(tmp_path: Path) -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    assert {
        "up",
        "salescast_gateway_requests_total",
        "salescast_gateway_request_seconds_bucket",
        "salescast_data_end_timestamp_seconds",
        "salescast_training_data_end_timestamp_seconds",
        "salescast_live_rmse_ratio_to_seasonal_naive",
    } <= used, used
    exported = gateway_sample_names(tmp_path)
    unknown = {
        name
        for name in used
        if name not in exported
        and name not in PROMETHEUS_NAMES
        and not name.startswith(TORCHSERVE_METRIC_PREFIX)
    }
    assert not unknown, f"rules read metrics nobody exports: {sorted(unknown)}"


def test_metric_names_ignores_functions_labels_ranges_and_grouping() -> None:
    expr = 'histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{route=~"x|y"}[5m]))) > 0.5 or up'
    assert metric_names(expr) == {"a_bucket", "up"}


def test_scrape_targets_are_the_compose_services_and_ports() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = load_yaml(REPO_ROOT / "docker-compose.yml")["services"]
    for job, service, port_variable in (
        ("gateway", "gateway", "SALESCAST_GATEWAY__PORT"),
        ("torchserve", "torchserve", "SALESCAST_TORCHSERVE__METRICS_PORT"),
    ):
        (discovery,) = jobs[job]["dns_sd_configs"]
        assert discovery["names"] == [service]
        assert str(discovery["port"]) == compose[service]["environment"][port_variable]
        assert jobs[job]["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["rules/salescast.yml"]
    (alertmanagers,) = config["alerting"]["alertmanagers"]
    assert (
        alertmanagers["static_configs"][0]["targets"] == jobs["alertmanager"]["static_configs"][0]["targets"]
    )
