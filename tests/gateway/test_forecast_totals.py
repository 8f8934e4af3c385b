"""The total of the days ahead through the session's real stack: `/api/predict`, `/api/predict/batch`,
`GET /api/forecast/{category}` and the bulk forecast answer the total the archive's files alone give
(tests/handlers/reference.py), with its own intervals, the same on every path."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from serving.archive import ArchiveInfo
from tests.handlers.reference import reference_total

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
CATEGORY = "Beauty"
HORIZON = 7
LEVELS = [80, 95]


@pytest.fixture(scope="module")
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=120.0) as client:
        yield client


@pytest.fixture(scope="module")
def window(test_settings: Settings) -> list[float]:
    """The category's last days, as GET /api/forecast reads them."""
    history = load_daily_sales(test_settings.data)[CATEGORY]
    return [float(value) for value in history.iloc[-test_settings.window.size :]]


@pytest.fixture(scope="module")
def archive_dir(
    model_store_archives: dict[str, ArchiveInfo], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("beauty-archive")
    with zipfile.ZipFile(model_store_archives[CATEGORY].path) as mar:
        mar.extractall(folder)
    return folder


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def assert_same_total(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["days"] == want["days"]
    assert got["prediction"] == pytest.approx(want["prediction"], rel=1e-6, abs=1e-6)
    assert [i["level"] for i in got["intervals"]] == [i["level"] for i in want["intervals"]]
    for mine, theirs in zip(got["intervals"], want["intervals"], strict=True):
        assert mine["lower"] == pytest.approx(theirs["lower"], rel=1e-6, abs=1e-6)
        assert mine["upper"] == pytest.approx(theirs["upper"], rel=1e-6, abs=1e-6)


def test_predict_answers_the_total_the_archive_gives(
    api: httpx.Client, window: list[float], archive_dir: Path
) -> None:
    answer = ok(api.post("/api/predict", json={"category": CATEGORY, "sales": window, "horizon": HORIZON}))
    total = answer["total"]
    assert total["days"] == HORIZON
    assert total["prediction"] == pytest.approx(sum(step["prediction"] for step in answer["forecast"]))
    want, bounds = reference_total(archive_dir, window, HORIZON, LEVELS)
    assert bounds is not None, "a freshly trained archive holds intervals of totals"
    assert total["prediction"] == pytest.approx(want, rel=1e-5, abs=1e-3)
    assert [interval["level"] for interval in total["intervals"]] == LEVELS  # the defaults
    for interval in total["intervals"]:
        lower, upper = bounds[interval["level"]]
        assert interval["lower"] == pytest.approx(lower, rel=1e-5, abs=1e-3)
        assert interval["upper"] == pytest.approx(upper, rel=1e-5, abs=1e-3)
        assert 0.0 <= interval["lower"] <= total["prediction"] <= interval["upper"]
    one_day = ok(api.post("/api/predict", json={"category": CATEGORY, "sales": window}))
    assert "total" not in one_day or one_day["total"] is None


def test_every_path_answers_the_same_total(api: httpx.Client, window: list[float]) -> None:
    levels = {"levels": [80]}
    predicted = ok(
        api.post("/api/predict", json={"category": CATEGORY, "sales": window, "horizon": HORIZON, **levels})
    )
    forecast = ok(api.get(f"/api/forecast/{CATEGORY}", params={"horizon": HORIZON, **levels}))
    batch = ok(
        api.post(
            "/api/predict/batch",
            json={"items": [{"category": CATEGORY, "sales": window}], "horizon": HORIZON, **levels},
        )
    )
    bulk = ok(api.post("/api/forecast_batch", json={"categories": [CATEGORY], "horizon": HORIZON, **levels}))
    [bulk_item], [batch_item] = bulk["results"], batch["results"]
    assert [i["level"] for i in predicted["total"]["intervals"]] == [80]
    for other in (forecast["total"], batch_item["total"], bulk_item["total"]):
        assert_same_total(other, predicted["total"])
    assert forecast["total"]["note"] is None
    short = ok(api.get(f"/api/forecast/{CATEGORY}", params={"horizon": 1}))
    assert short["total"] is None
