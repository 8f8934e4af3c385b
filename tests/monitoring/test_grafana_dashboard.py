"""The provisioned Grafana dashboard. Grafana is not installable here, so every panel's PromQL (template
variables and Grafana's interval macros substituted the way Grafana does) runs against a real
Prometheus scraping the session's real gateway and TorchServe, and must answer with a value; each panel
must use the provisioned datasource."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core import supervisor
from core.net import http_url
from core.settings import Settings
from tests.monitoring.test_prometheus_config import (
    MONITORING,
    PROMETHEUS_NAMES,
    TORCHSERVE_METRIC_PREFIX,
    gateway_sample_names,
    load_yaml,
    metric_names,
    tool,
)
from tests.monitoring.test_prometheus_scrape import (
    PROMETHEUS_START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    prometheus_config,
    ready,
    wait_for,
)
from tests.support.ports import free_port

GRAFANA = MONITORING / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "salescast.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "salescast.yml"

# The panels the product issue asks for (title -> a metric its queries must read).
REQUIRED_PANELS = {
    "Request rate by route": "salescast_gateway_requests_total",
    "Error rate (5xx share)": "salescast_gateway_requests_total",
    "Gateway latency p50 and p99 by route": "salescast_gateway_request_seconds_bucket",
    "TorchServe latency per inference (mean)": "ts_inference_latency_microseconds",
    "Predictions by category": "salescast_gateway_predictions_total",
    "Served versions": "salescast_served_version_info",
    "Training jobs by outcome": "salescast_training_jobs",
    "Live forecast error (RMSE / seasonal naive)": "salescast_live_rmse_ratio_to_seasonal_naive",
}
PER_CATEGORY_PANELS = (
    "Predictions by category",
    "Served versions",
    "Live forecast error (RMSE / seasonal naive)",
)
# Allowed to answer nothing, and why: the live accuracy gauge is set once a served version has
# `live_accuracy.min_days` scored days, and this stack's data never moves on (tests/gateway/
# test_live_accuracy.py checks the gauge against days that arrive).
EMPTY_ALLOWED = {
    "Live forecast error (RMSE / seasonal naive)": "no day is scored: the test's data does not move on"
}

# What Grafana would put for its macros with Prometheus scraping every second (the test's config).
MACROS = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "1m"}
TRAFFIC_PAUSE_S = 0.25  # between two predictions of the background traffic
PANEL_TIMEOUT_S = 60.0  # how long one panel's query may take to answer under load
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_GRAFANA_REGEX_SPECIALS = re.compile(r"[$^*{}\[\]'+?.()|]")


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in dashboard()["panels"]}


def provisioned_uid() -> str:
    (datasource,) = load_yaml(DATASOURCES)["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"  # the compose service
    uid: str = datasource["uid"]
    return uid


def grafana_regex_value(values: list[str]) -> str:
    """A multi-value variable as Grafana writes it into a Prometheus regex matcher: each value with
    regex specials escaped (for a PromQL string, so the backslash doubled), joined as `(a|b)`."""
    escaped = [_GRAFANA_REGEX_SPECIALS.sub(lambda m: "\\\\" + m.group(), value) for value in values]
    return escaped[0] if len(escaped) == 1 else f"({'|'.join(escaped)})"


def substitute(expr: str, variables: dict[str, str]) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    return _VARIABLE.sub(lambda m: variables[m.group(1) or m.group(2)], expr)


def test_the_dashboard_has_the_required_panels_reading_their_metrics() -> None:
    by_title = panels()
    for title, metric in REQUIRED_PANELS.items():
        assert title in by_title, f"no panel {title!r}"
        used = set().union(
            *(metric_names(substitute(t["expr"], {"category": "x"})) for t in by_title[title]["targets"])
        )
        assert metric in used, f"{title}: reads {sorted(used)}, not {metric}"
    assert len({panel["id"] for panel in dashboard()["panels"]}) == len(by_title), "panel ids repeat"


def test_every_panel_query_and_variable_uses_the_provisioned_datasource() -> None:
    uid = provisioned_uid()
    data = dashboard()
    for panel in data["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
    for variable in data["templating"]["list"]:
        assert variable["datasource"] == {"type": "prometheus", "uid": uid}, variable["name"]


def test_per_category_panels_filter_on_the_category_variable() -> None:
    (variable,) = dashboard()["templating"]["list"]
    assert variable["name"] == "category"
    assert variable["query"]["query"].startswith("label_values(")
    by_title = panels()
    for title in PER_CATEGORY_PANELS:
        for target in by_title[title]["targets"]:
            assert 'category=~"$category"' in target["expr"], title


def test_every_metric_the_dashboard_reads_is_exported(tmp_path: Path) -> None:
    used = set().union(
        *(
            metric_names(substitute(t["expr"], {"category": "x"}))
            for p in dashboard()["panels"]
            for t in p["targets"]
        )
    )
    exported = gateway_sample_names(tmp_path)
    unknown = {
        name
        for name in used
        if name not in exported
        and name not in PROMETHEUS_NAMES
        and not name.startswith(TORCHSERVE_METRIC_PREFIX)
    }
    assert not unknown, f"the dashboard reads metrics nobody exports: {sorted(unknown)}"


def test_the_dashboard_provider_loads_the_folder_compose_mounts() -> None:
    (provider,) = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(MONITORING.parent / "docker-compose.yml")["services"]["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    assert mounts[provider["options"]["path"]] == "./monitoring/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./monitoring/grafana/provisioning"
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home == Path(provider["options"]["path"]) / DASHBOARD.name


# ---- against a real Prometheus ------------------------------------------------------------------


@pytest.fixture
def traffic(gateway_url: str, test_settings: Settings) -> Iterator[None]:
    """Predictions of every served category, one every TRAFFIC_PAUSE_S, for as long as the test runs:
    rates over the last seconds then always have requests to divide by."""
    stop = threading.Event()
    categories = ["Beauty", "Clothing", "Electronics"]
    sales = [100.0] * test_settings.window.size

    def send() -> None:
        with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
            turn = 0
            while not stop.is_set():
                category = categories[turn % len(categories)]
                client.post("/api/predict", json={"category": category, "sales": sales})
                turn += 1
                stop.wait(TRAFFIC_PAUSE_S)

    thread = threading.Thread(target=send, name="dashboard-traffic", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30.0)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10.0)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def has_a_number(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


@pytest.mark.slow
@pytest.mark.torchserve
@pytest.mark.usefixtures("traffic")
def test_every_panel_query_answers_from_a_real_prometheus(test_settings: Settings, tmp_path: Path) -> None:
    prometheus = tool("prometheus", "prometheus")
    gateway = f"{test_settings.gateway.host}:{test_settings.gateway.port}"
    torchserve = f"{test_settings.torchserve.host}:{test_settings.torchserve.metrics_port}"
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(prometheus_config(gateway, torchserve)), encoding="utf-8")
    port = free_port()
    base = http_url("127.0.0.1", port)
    process = supervisor.start_process(
        "prometheus",
        [
            prometheus,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        supervisor.wait_ready(process, lambda: ready(base), PROMETHEUS_START_TIMEOUT_S)
        wait_for(
            base,
            'min(up{job=~"gateway|torchserve"})',
            lambda result: has_a_number(result) and float(result[0]["value"][1]) == 1.0,
        )
        # Enough scrapes of the traffic for every rate window, and the variable's metric present.
        wait_for(
            base,
            "sum(rate(ts_inference_requests_total[15s]))",
            lambda result: has_a_number(result) and float(result[0]["value"][1]) > 0,
        )
        wait_for(base, "salescast_served_version_info", bool)

        (variable,) = dashboard()["templating"]["list"]
        definition = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["query"]["query"])
        assert definition, variable["query"]
        metric, label = definition.groups()
        answer = httpx.get(f"{base}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=10.0)
        values = answer.json()["data"]
        assert set(values) == {"Beauty", "Clothing", "Electronics"}, values
        variables = {"category": grafana_regex_value(values)}

        empty: dict[str, str] = {}
        for panel in dashboard()["panels"]:
            for target in panel["targets"]:
                expr = substitute(target["expr"], variables)
                # A busy machine can leave a rate window with one scrape for a while: poll each query
                # (the allowed-empty panel once) rather than judge it on a single answer.
                deadline = time.monotonic() + (0 if panel["title"] in EMPTY_ALLOWED else PANEL_TIMEOUT_S)
                result = query(base, expr)
                while not has_a_number(result) and time.monotonic() < deadline:
                    time.sleep(0.5)
                    result = query(base, expr)
                if not has_a_number(result):
                    empty[panel["title"]] = f"{expr} -> {result}"
        unexpected = {title: why for title, why in empty.items() if title not in EMPTY_ALLOWED}
        assert not unexpected, f"panels without a value: {unexpected}"
    finally:
        process.stop(STOP_TIMEOUT_S)
