"""POST /api/forecast_batch against the session's real stack: every category forecast by one batch
process from the served archives equals GET /api/forecast/{category} through TorchServe, in JSON and
CSV; failures are per category; answers are cached until the data's days or a version change; and
TorchServe answers no inference request for it."""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from gateway.app import create_app
from salescast.bench.serving_stack import GatewayLauncher
from serving.archive import ArchiveInfo
from serving.torchserve_process import TorchServeProcess
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.torchserve import ArchiveCopies, StartTorchServe

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
CATEGORIES = ["Beauty", "Clothing", "Electronics"]
HORIZON = 3
INFERENCE_COUNT = re.compile(r"^ts_inference_requests_total\{[^}]*\}\s+([0-9.eE+]+)", re.MULTILINE)


@pytest.fixture(scope="module")
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=120.0) as client:
        yield client


def bulk(api: httpx.Client | TestClient, **body: Any) -> dict[str, Any]:
    response = api.post("/api/forecast_batch", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def inference_requests(torchserve: TorchServeProcess, settings: Settings) -> float:
    """TorchServe's own count of inference requests, every model together."""
    text = httpx.get(f"http://{settings.torchserve.host}:{settings.torchserve.metrics_port}/metrics").text
    return sum(float(value) for value in INFERENCE_COUNT.findall(text))


def test_every_category_equals_its_served_forecast_without_touching_torchserve(
    api: httpx.Client,
    torchserve: TorchServeProcess,
    test_settings: Settings,
    model_store_archives: dict[str, ArchiveInfo],
) -> None:
    before = inference_requests(torchserve, test_settings)
    answer = bulk(api, horizon=HORIZON, levels=[80, 95])
    assert inference_requests(torchserve, test_settings) == before  # no worker loaded, none evicted
    assert answer["dataset_id"] == "default" and answer["horizon"] == HORIZON
    assert [item["category"] for item in answer["results"]] == CATEGORIES
    assert (answer["succeeded"], answer["failed"]) == (3, 0)
    for item in answer["results"]:
        served = api.get(f"/api/forecast/{item['category']}", params={"horizon": HORIZON, "levels": [80, 95]})
        assert served.status_code == 200, served.text
        expected = served.json()
        assert item["status"] == 200 and item["error"] is None
        assert (
            item["model_version"]
            == model_store_archives[item["category"]].version
            == expected["model_version"]
        )
        assert item["window_size"] == expected["window_size"] == test_settings.window.size
        assert (item["history_end"], item["date"]) == (expected["history_end"], expected["date"])
        assert item["prediction"] == pytest.approx(expected["prediction"], rel=1e-6)
        assert len(item["forecast"]) == len(expected["forecast"]) == HORIZON
        for got, want in zip(item["forecast"], expected["forecast"], strict=True):
            assert (got["step"], got["date"]) == (want["step"], want["date"])
            assert got["prediction"] == pytest.approx(want["prediction"], rel=1e-6, abs=1e-6)
            assert [interval["level"] for interval in got["intervals"]] == [80, 95]
            for mine, theirs in zip(got["intervals"], want["intervals"], strict=True):
                assert mine["level"] == theirs["level"]
                assert mine["lower"] == pytest.approx(theirs["lower"], rel=1e-6, abs=1e-6)
                assert mine["upper"] == pytest.approx(theirs["upper"], rel=1e-6, abs=1e-6)
    assert inference_requests(torchserve, test_settings) >= before + len(CATEGORIES)  # the count is live


def test_a_second_call_is_answered_from_the_cache(api: httpx.Client) -> None:
    first = bulk(api, categories=CATEGORIES, horizon=2)
    again = bulk(api, categories=["clothing", "Beauty"], horizon=2)  # any case, any order, a subset
    assert again["computed"] == 0
    assert again["results"] == [first["results"][1], first["results"][0]]
    other = bulk(api, categories=["Beauty"], horizon=4)  # another horizon is another forecast
    assert other["computed"] == 1 and len(other["results"][0]["forecast"]) == 4


def test_predictions_are_answered_while_a_bulk_forecast_computes(
    gateway_url: str, test_settings: Settings
) -> None:
    """The batch process runs beside the event loop: a prediction sent after a bulk forecast started
    (levels no other test asks, so it computes: at least the ~1.4 s of starting Python and torch) is
    answered before the bulk forecast is."""
    finished: dict[str, float] = {}

    def run_bulk() -> None:
        with httpx.Client(base_url=gateway_url, timeout=120.0) as client:
            assert bulk(client, horizon=2, levels=[61])["computed"] == len(CATEGORIES)
        finished["bulk"] = time.monotonic()

    worker = threading.Thread(target=run_bulk)
    worker.start()
    time.sleep(0.3)
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        answer = client.post(
            "/api/predict", json={"category": "Beauty", "sales": [100.0] * test_settings.window.size}
        )
    finished["predict"] = time.monotonic()
    worker.join(timeout=120)
    assert answer.status_code == 200, answer.text
    assert finished["predict"] < finished["bulk"]


def test_csv_rows_hold_the_json_numbers(api: httpx.Client) -> None:
    answer = bulk(api, horizon=HORIZON)
    by_query = api.post("/api/forecast_batch", params={"format": "csv"}, json={"horizon": HORIZON})
    by_accept = api.post("/api/forecast_batch", headers={"Accept": "text/csv"}, json={"horizon": HORIZON})
    for response in (by_query, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
    assert by_query.text == by_accept.text
    rows = list(csv.DictReader(io.StringIO(by_query.text)))
    assert list(rows[0]) == [
        "category", "date", "step", "prediction", "lower_80", "upper_80", "lower_95", "upper_95",
        "model_version", "status", "error",
    ]  # fmt: skip
    assert len(rows) == len(CATEGORIES) * HORIZON
    expected = [
        (
            item["category"],
            step["date"],
            step["step"],
            step["prediction"],
            step["intervals"],
            item["model_version"],
        )
        for item in answer["results"]
        for step in item["forecast"]
    ]
    for row, (category, day, step, prediction, intervals, version) in zip(rows, expected, strict=True):
        assert (row["category"], row["date"], int(row["step"]), row["model_version"]) == (
            category,
            day,
            step,
            version,
        )
        assert float(row["prediction"]) == prediction  # the same float, written exactly
        assert (
            float(row["lower_80"]) == intervals[0]["lower"]
            and float(row["upper_95"]) == intervals[1]["upper"]
        )
        assert (row["status"], row["error"]) == ("200", "")


def test_an_unknown_category_fails_alone(api: httpx.Client) -> None:
    answer = bulk(api, categories=["Toys", "Beauty"], horizon=1)
    toys, beauty = answer["results"]
    assert toys == {
        "category": "Toys",
        "status": 404,
        "error": "no model serves 'Toys'",
        "model_version": None,
        "window_size": None,
        "history_end": None,
        "date": None,
        "prediction": None,
        "forecast": None,
        "total": None,
        "calendar": None,
    }
    assert beauty["status"] == 200 and (answer["succeeded"], answer["failed"]) == (1, 1)
    text = api.post("/api/forecast_batch?format=csv", json={"categories": ["Toys"]}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["category"], row["status"], row["error"]) for row in rows] == [
        ("Toys", "404", "no model serves 'Toys'")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"horizon": 0}, "horizon: Input should be greater than or equal to 1"),
        ({"horizon": 29}, "horizon must be from 1 to 28 days, got 29"),
        ({"horizon": "two"}, "horizon: Input should be a valid integer"),
        ({"levels": [10]}, "levels: each level must be a percent from 50 to 99, got 10"),
        ({"categories": []}, "categories: List should have at least 1 item"),
        ({"category": "Beauty"}, "category: unknown field"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(api: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = api.post("/api/forecast_batch", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_bad_format_is_422(api: httpx.Client) -> None:
    response = api.post("/api/forecast_batch", params={"format": "xml"}, json={})
    assert response.status_code == 422 and "format" in response.json()["detail"]


@pytest.fixture
def private_gateway(
    tmp_path: Path, test_settings: Settings, torchserve: TorchServeProcess
) -> Iterator[TestClient]:
    """An in-process gateway in front of the session's TorchServe and model store, with its own
    datasets (uploads and activation change nothing the shared gateway reads)."""
    settings = test_settings.with_overrides(
        {"paths": {"datasets": str(tmp_path / "datasets"), "jobs_db": str(tmp_path / "jobs.sqlite")}}
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_a_changed_dataset_recomputes_only_what_changed(private_gateway: TestClient) -> None:
    first = bulk(private_gateway, horizon=1)
    assert first["computed"] == 3
    assert bulk(private_gateway, horizon=1)["computed"] == 0
    # The same file with one more Beauty sale on the last day: only Beauty's window differs.
    text = SAMPLE_DATA.read_text(encoding="utf-8")
    last_day = max(line.split(",")[1] for line in text.splitlines()[1:])
    changed = text.rstrip("\n") + f"\n999999,{last_day},CUST99999,Female,30,Beauty,1,500,500\n"
    uploaded = private_gateway.post("/api/datasets", files={"file": ("changed.csv", changed, "text/csv")})
    assert uploaded.status_code in (200, 201), uploaded.text
    dataset_id = uploaded.json()["dataset_id"]
    private_gateway.put("/api/datasets/active", json={"dataset_id": dataset_id}).raise_for_status()
    second = bulk(private_gateway, horizon=1)
    assert second["dataset_id"] == dataset_id and second["computed"] == 1
    before = {item["category"]: item for item in first["results"]}
    after = {item["category"]: item for item in second["results"]}
    assert after["Clothing"] == before["Clothing"] and after["Electronics"] == before["Electronics"]
    assert after["Beauty"]["prediction"] != before["Beauty"]["prediction"]
    served = private_gateway.get("/api/forecast/Beauty").json()
    assert after["Beauty"]["prediction"] == pytest.approx(served["prediction"], rel=1e-6)


def test_the_batch_process_runs_below_serving_priority(
    private_gateway: TestClient, test_settings: Settings
) -> None:
    """The batch process is `gateway.job_nice` below the gateway (here the test process), read from
    the kernel while it computes, as a training job is."""
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + test_settings.gateway.job_nice)
    assert test_settings.gateway.job_nice > 0
    answers: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: answers.append(bulk(private_gateway, horizon=1)))
    worker.start()
    seen: dict[int, int] = {}
    while worker.is_alive():
        for child in psutil.Process().children(recursive=True):
            try:
                if "serving.bulk_forecast" in child.cmdline():
                    seen[child.pid] = child.nice()
            except psutil.Error:  # it finished meanwhile
                continue
        time.sleep(0.01)
    worker.join()
    assert answers and answers[0]["computed"] == len(CATEGORIES)
    assert list(seen.values()) == [expected], seen


def holding_workers(torchserve: TorchServeProcess, models: list[str]) -> set[str]:
    """The models whose versions hold a worker in TorchServe right now."""
    holding = set()
    for model in models:
        versions = httpx.get(f"{torchserve.management_url}/models/{model}/all", timeout=30).json()
        if any(version.get("workers") for version in versions):
            holding.add(model)
    return holding


def test_under_a_memory_budget_the_loaded_set_stays_as_it_was(
    tmp_path: Path, archive_copies: ArchiveCopies, isolated_torchserve: StartTorchServe
) -> None:
    """One category may hold a worker: a bulk forecast of all three loads none and evicts none, and
    each number still equals the served one (asked afterwards, which loads them one by one)."""
    settings = make_test_settings(tmp_path, torchserve={"max_loaded_models": 1})
    archives = archive_copies(settings)
    torchserve = isolated_torchserve(settings, archives)
    models = [info.model_name for info in archives]
    with (
        GatewayLauncher(settings, tmp_path / "gateway") as gateway,
        httpx.Client(base_url=gateway.url, timeout=120) as api,
    ):
        loaded = holding_workers(torchserve, models)
        assert len(loaded) == 1
        before = inference_requests(torchserve, settings)
        answer = bulk(api, horizon=HORIZON)
        assert (answer["succeeded"], answer["computed"]) == (3, 3)
        assert holding_workers(torchserve, models) == loaded
        assert inference_requests(torchserve, settings) == before
        for item in answer["results"]:
            served = api.get(f"/api/forecast/{item['category']}", params={"horizon": HORIZON}).json()
            assert item["model_version"] == served["model_version"]
            assert [step["prediction"] for step in item["forecast"]] == pytest.approx(
                [step["prediction"] for step in served["forecast"]], rel=1e-6
            )
