"""Every route against the session's real stack: TorchServe serving the tiny sample models and a
uvicorn gateway subprocess in front of it (read-only: nothing here changes which model is served)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from serving.archive import ArchiveInfo
from serving.torchserve_process import TorchServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
CATEGORIES = ["Beauty", "Clothing", "Electronics"]


@pytest.fixture(scope="module")
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def history(test_settings: Settings) -> dict[str, Any]:
    return load_daily_sales(test_settings.data)


def window(test_settings: Settings, history: dict[str, Any], category: str, offset: int = 0) -> list[float]:
    size = test_settings.window.size
    series = history[category]
    end = len(series) - offset
    return [float(value) for value in series.iloc[end - size : end]]


def direct(torchserve: TorchServeProcess, model: str, sales: list[float]) -> dict[str, Any]:
    response = httpx.post(
        f"{torchserve.inference_url}/predictions/{model}", json={"sales": sales}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("category", CATEGORIES)
def test_predict_equals_torchserve(
    api: httpx.Client,
    torchserve: TorchServeProcess,
    model_store_archives: dict[str, ArchiveInfo],
    test_settings: Settings,
    history: dict[str, Any],
    category: str,
) -> None:
    sales = window(test_settings, history, category, offset=3)
    response = api.post("/api/predict", json={"category": category, "sales": sales})
    assert response.status_code == 200, response.text
    body = response.json()
    archive = model_store_archives[category]
    expected = direct(torchserve, archive.model_name, sales)
    assert body == {
        "category": category,
        "prediction": pytest.approx(expected["prediction"], rel=1e-6),
        "model_version": archive.version,
        "window_size": test_settings.window.size,
        "horizon": 1,
        "forecast": [{**step, "date": None} for step in expected["forecast"]],
        # a version with calendar terms (the sample's Black Friday) says they were not applied
        **({"calendar": expected["calendar"]} if "calendar" in expected else {}),
    }


def test_predict_accepts_the_category_in_any_case(api: httpx.Client, test_settings: Settings) -> None:
    response = api.post(
        "/api/predict", json={"category": "beauty", "sales": [100.0] * test_settings.window.size}
    )
    assert response.status_code == 200
    assert response.json()["category"] == "Beauty"


def test_predict_wrong_length_is_422_with_the_served_window(
    api: httpx.Client, test_settings: Settings
) -> None:
    response = api.post("/api/predict", json={"category": "Beauty", "sales": [1.0, 2.0, 3.0]})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"expected {test_settings.window.size} values, got 3")


def test_predict_unknown_category_is_404_naming_the_known(api: httpx.Client) -> None:
    response = api.post("/api/predict", json={"category": "Toys", "sales": [1.0] * 14})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown category 'Toys'; served categories: Beauty, Clothing, Electronics"
    }


def test_predict_extreme_but_valid_values_are_answered_or_refused_cleanly(
    api: httpx.Client, test_settings: Settings
) -> None:
    response = api.post(
        "/api/predict", json={"category": "Beauty", "sales": [3.0e38] * test_settings.window.size}
    )
    assert response.status_code in (200, 422)
    assert "detail" in response.json() or "prediction" in response.json()


def test_batch_answers_in_order_with_per_item_errors(
    api: httpx.Client, test_settings: Settings, history: dict[str, Any]
) -> None:
    items: list[dict[str, Any]] = []
    for offset in range(5):
        for category in CATEGORIES:
            items.append({"category": category, "sales": window(test_settings, history, category, offset)})
    items.insert(2, {"category": "Beauty", "sales": [1.0]})
    items.insert(4, {"category": "Toys", "sales": [1.0] * 14})
    items.insert(6, {"category": "Clothing", "sales": [1.0, "x"]})
    response = api.post("/api/predict/batch", json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["succeeded"], body["failed"]) == (15, 3)
    results = body["results"]
    assert [result["index"] for result in results] == list(range(len(items)))
    assert results[2]["status"] == 422
    assert results[2]["error"].startswith("expected 14 values, got 1")
    assert results[4]["status"] == 404
    assert results[6]["status"] == 422
    assert "sales[1] must be a number" in results[6]["error"]
    for item, result in zip(items, results, strict=True):
        if result["status"] != 200:
            continue
        single = api.post("/api/predict", json=item).json()
        assert result["category"] == single["category"] == item["category"]
        assert result["prediction"] == pytest.approx(single["prediction"], rel=1e-6)
        assert result["model_version"] == single["model_version"]


def test_batch_is_grouped_into_few_torchserve_calls(
    api: httpx.Client, torchserve: TorchServeProcess, test_settings: Settings, history: dict[str, Any]
) -> None:
    items = [
        {"category": "Electronics", "sales": window(test_settings, history, "Electronics", i)}
        for i in range(300)
    ]
    before = _inference_requests(torchserve, "electronics")
    response = api.post("/api/predict/batch", json={"items": items})
    assert response.status_code == 200
    assert response.json()["succeeded"] == 300
    calls = _inference_requests(torchserve, "electronics") - before
    per_call = test_settings.gateway.max_instances_per_call
    assert calls == -(-300 // per_call), calls


def _inference_requests(torchserve: TorchServeProcess, model: str) -> int:
    """Requests TorchServe counted for `model` (its Prometheus `ts_inference_requests_total`)."""
    text = httpx.get(f"{torchserve.metrics_url}/metrics", timeout=10).text
    total = 0
    for line in text.splitlines():
        if line.startswith("ts_inference_requests_total") and f'model_name="{model}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_models_lists_every_served_category(
    api: httpx.Client, model_store_archives: dict[str, ArchiveInfo], test_settings: Settings
) -> None:
    response = api.get("/api/models")
    assert response.status_code == 200
    models = {model["category"]: model for model in response.json()["models"]}
    assert sorted(models) == CATEGORIES
    for category, archive in model_store_archives.items():
        model = models[category]
        assert model["model_name"] == archive.model_name
        assert model["default_version"] == archive.version
        assert model["window_size"] == test_settings.window.size
        assert set(model["test_metrics"]) >= {"model", "naive", "seasonal_naive", "moving_average"}
        assert model["test_metrics"]["model"]["rmse"] > 0
        assert [version["version"] for version in model["versions"]] == [archive.version]
        assert model["versions"][0]["is_default"] is True
        assert model["versions"][0]["ready_workers"] >= 1


def test_set_default_to_the_served_version_and_errors(
    api: httpx.Client, model_store_archives: dict[str, ArchiveInfo]
) -> None:
    version = model_store_archives["Beauty"].version
    same = api.put("/api/models/Beauty/default", json={"version": version})
    assert same.status_code == 200, same.text
    assert same.json()["default_version"] == version
    missing = api.put("/api/models/Beauty/default", json={"version": "19990101.000000"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        f"Beauty has no archived or registered version '19990101.000000'; known: {version}"
    )
    unknown = api.put("/api/models/Toys/default", json={"version": version})
    assert unknown.status_code == 404
    assert api.put("/api/models/Beauty/default", json={}).status_code == 422


@pytest.mark.parametrize("category", CATEGORIES)
def test_forecast_predicts_the_day_after_the_history(
    api: httpx.Client, test_settings: Settings, history: dict[str, Any], category: str
) -> None:
    response = api.get(f"/api/forecast/{category}")
    assert response.status_code == 200, response.text
    body = response.json()
    last_day = history[category].index[-1].date()
    assert body["history_end"] == last_day.isoformat()
    assert body["date"] == (last_day + timedelta(days=1)).isoformat()
    predicted = api.post(
        "/api/predict", json={"category": category, "sales": window(test_settings, history, category)}
    )
    assert body["prediction"] == pytest.approx(predicted.json()["prediction"], rel=1e-6)
    assert body["model_version"] == predicted.json()["model_version"]
    assert date.fromisoformat(body["date"])


def test_forecast_unknown_category_is_404(api: httpx.Client) -> None:
    assert api.get("/api/forecast/Toys").status_code == 404


def test_bad_levels_and_horizon_say_what_is_expected_on_predict_and_forecast(
    api: httpx.Client, test_settings: Settings
) -> None:
    sales = [100.0] * test_settings.window.size
    level_error = "levels: each level must be a percent from 50 to 99, got 30"
    predicted = api.post("/api/predict", json={"category": "Beauty", "sales": sales, "levels": [30]})
    forecast = api.get("/api/forecast/Beauty", params={"levels": 30})
    assert (predicted.status_code, predicted.json()["detail"]) == (422, level_error)
    assert (forecast.status_code, forecast.json()["detail"]) == (422, level_error)
    too_far = api.post("/api/predict", json={"category": "Beauty", "sales": sales, "horizon": 30})
    assert too_far.status_code == 422
    assert "horizon must be from 1 to" in too_far.json()["detail"]


def test_health_is_200_with_every_model_ready(api: httpx.Client) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["torchserve"]["status"] == "ready"
    assert sorted(model["category"] for model in body["torchserve"]["models"]) == CATEGORIES
    assert all(model["ready_workers"] >= 1 for model in body["torchserve"]["models"])


def test_metrics_count_predictions_by_category(api: httpx.Client, test_settings: Settings) -> None:
    def count() -> float:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith('salescast_gateway_predictions_total{category="Clothing",outcome="ok"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    for _ in range(3):
        api.post("/api/predict", json={"category": "Clothing", "sales": [5.0] * test_settings.window.size})
    assert count() == before + 3


def test_openapi_of_the_running_gateway_loads(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert json.dumps(schema)
    assert "/api/predict" in schema["paths"]
