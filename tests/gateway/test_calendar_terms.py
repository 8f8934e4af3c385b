"""Calendar terms through the gateway, on a private TorchServe serving a Beauty version with one
holiday (Dec 25 sells a tenth), a Clothing version without calendar terms (both format 2: their
models take no weekday) and an Electronics version whose model reads the weekday (format 3, no
calendar terms): `last_date` is checked, forwarded and answered on every forecast path, and `GET
/api/models` sums up each version's terms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from handlers.calendar_terms import WEEKDAY_NOT_SENT
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.serving.calendar_archive import CALENDAR_SUMMARY, HOLIDAY_FACTOR, calendar_archive

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
VERSION = "20240101.000000"
WINDOW = [float(240 + 7 * (day % 5)) for day in range(14)]  # Dec 11..24 with last_date Dec 24: no holiday
LAST_DATE = "2024-12-24"  # the day before the holiday: tomorrow is Dec 25
HOLIDAYS = ["holidays (US)"]  # what the date drives in Beauty's archive
WEEKDAY = ["weekday"]  # and in Electronics' (format 3, no calendar terms)


class Stack:
    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self.settings = settings
        self.api = client


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root: Path = tmp_path_factory.mktemp("calendar")
    settings = make_test_settings(root, gateway={"predict_timeout_s": 10.0})
    archives = [
        calendar_archive(settings, "Beauty", VERSION),
        calendar_archive(settings, "Clothing", VERSION, calendar=False, seed=2),
        calendar_archive(settings, "Electronics", VERSION, calendar=False, seed=4, format_version=3),
    ]
    with (
        TorchServeProcess(settings, archives),
        GatewayProcess(settings, root / "gateway") as gateway,
        httpx.Client(base_url=gateway.url, timeout=120.0) as client,
    ):
        yield Stack(settings, client)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def predict(stack: Stack, **fields: Any) -> dict[str, Any]:
    body = {"category": "Beauty", "sales": WINDOW, "horizon": 2, **fields}
    return ok(stack.api.post("/api/predict", json=body))


def test_last_date_applies_the_holiday_factor(stack: Stack) -> None:
    plain = predict(stack)
    dated = predict(stack, last_date=LAST_DATE)
    first, second = dated["forecast"]
    assert first["prediction"] == pytest.approx(HOLIDAY_FACTOR * plain["forecast"][0]["prediction"])
    assert second["prediction"] == pytest.approx(plain["forecast"][1]["prediction"])  # Dec 26: normal
    for mine, theirs in zip(first["intervals"], plain["forecast"][0]["intervals"], strict=True):
        assert mine["lower"] == pytest.approx(HOLIDAY_FACTOR * theirs["lower"])
        assert mine["upper"] == pytest.approx(HOLIDAY_FACTOR * theirs["upper"])
    assert dated["prediction"] == first["prediction"]
    assert dated["calendar"] == {"applied": True, "last_date": LAST_DATE, "uses": HOLIDAYS}


def test_without_last_date_the_answer_says_the_terms_were_not_applied(stack: Stack) -> None:
    calendar = predict(stack)["calendar"]
    assert calendar["applied"] is False
    assert "send last_date" in calendar["note"]
    clothing = ok(stack.api.post("/api/predict", json={"category": "Clothing", "sales": WINDOW}))
    assert clothing.get("calendar") is None  # no terms, no date: nothing to say
    sent = ok(
        stack.api.post("/api/predict", json={"category": "Clothing", "sales": WINDOW, "last_date": LAST_DATE})
    )
    assert sent["calendar"]["applied"] is False and "no calendar terms" in sent["calendar"]["note"]


@pytest.mark.parametrize("value", ["24/12/2024", 20241224, "2024-02-30", "2024-12-24T00:00:00", "", True])
def test_a_bad_last_date_is_a_422_naming_it(stack: Stack, value: Any) -> None:
    body = {"category": "Beauty", "sales": WINDOW, "last_date": value}
    for headers in ({}, {"content-type": "application/json; charset=utf-8"}):
        response = stack.api.post("/api/predict", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert "last_date" in response.json()["detail"] and "YYYY-MM-DD" in response.json()["detail"]
    batch = stack.api.post(
        "/api/predict/batch", json={"items": [{"category": "Beauty", "sales": WINDOW, "last_date": value}]}
    )
    assert batch.status_code == 422, batch.text
    assert "items.0.last_date" in batch.json()["detail"]


def test_batch_items_carry_their_own_last_date(stack: Stack) -> None:
    items = [
        {"category": "Beauty", "sales": WINDOW, "last_date": LAST_DATE},
        {"category": "Beauty", "sales": WINDOW},
        {"category": "Clothing", "sales": WINDOW, "last_date": LAST_DATE},
        {"category": "Beauty", "sales": WINDOW, "last_date": "2024-12-23"},  # tomorrow is Dec 24
    ]
    results = ok(stack.api.post("/api/predict/batch", json={"items": items, "horizon": 2}))["results"]
    assert [result["status"] for result in results] == [200, 200, 200, 200]
    dated, plain, clothing, earlier = results
    single = predict(stack, last_date=LAST_DATE)["forecast"]
    assert [step["prediction"] for step in dated["forecast"]] == pytest.approx(
        [step["prediction"] for step in single]
    )
    assert dated["calendar"] == {"applied": True, "last_date": LAST_DATE, "uses": HOLIDAYS}
    assert plain["prediction"] == pytest.approx(predict(stack)["prediction"])
    assert plain["calendar"]["applied"] is False and "send last_date" in plain["calendar"]["note"]
    assert "no calendar terms" in clothing["calendar"]["note"]
    assert earlier["calendar"]["last_date"] == "2024-12-23"
    assert earlier["forecast"][1]["prediction"] == pytest.approx(
        HOLIDAY_FACTOR * plain["forecast"][1]["prediction"]
    )


def test_forecasts_from_the_history_send_its_last_day(stack: Stack) -> None:
    history = load_daily_sales(stack.settings.data)
    end = history["Beauty"].index[-1].strftime("%Y-%m-%d")
    window = [float(value) for value in history["Beauty"].iloc[-14:]]
    forecast = ok(stack.api.get("/api/forecast/Beauty", params={"horizon": 2}))
    assert forecast["history_end"] == end
    assert forecast["calendar"] == {"applied": True, "last_date": end, "uses": HOLIDAYS, "note": None}
    same = predict(stack, sales=window, last_date=end)
    assert [step["prediction"] for step in forecast["forecast"]] == pytest.approx(
        [step["prediction"] for step in same["forecast"]]
    )
    cached = stack.api.get("/api/forecast/Beauty", params={"horizon": 2})
    assert cached.headers["X-Cache"] == "hit" and cached.json()["calendar"] == forecast["calendar"]
    clothing = ok(stack.api.get("/api/forecast/Clothing"))
    assert clothing["calendar"] is None  # a version without terms is not sent the date
    bulk = ok(
        stack.api.post("/api/forecast_batch", json={"categories": ["Beauty", "Clothing"], "horizon": 2})
    )
    beauty_bulk, clothing_bulk = bulk["results"]
    assert beauty_bulk["calendar"] == {"applied": True, "last_date": end, "uses": HOLIDAYS, "note": None}
    assert [step["prediction"] for step in beauty_bulk["forecast"]] == pytest.approx(
        [step["prediction"] for step in forecast["forecast"]]
    )
    assert clothing_bulk["status"] == 200 and clothing_bulk["calendar"] is None


def test_models_sum_up_each_versions_calendar_terms(stack: Stack) -> None:
    models = {model["category"]: model for model in ok(stack.api.get("/api/models"))["models"]}
    assert models["Beauty"]["calendar"] == CALENDAR_SUMMARY
    assert models["Beauty"]["versions"][0]["calendar"] == CALENDAR_SUMMARY
    assert models["Clothing"]["calendar"] is None


def test_a_version_that_reads_the_weekday_is_sent_the_date_and_says_when_it_had_none(stack: Stack) -> None:
    body = {"category": "Electronics", "sales": WINDOW, "horizon": 2}
    plain = ok(stack.api.post("/api/predict", json=body))
    dated = ok(stack.api.post("/api/predict", json={**body, "last_date": LAST_DATE}))
    assert plain["calendar"] == {"applied": False, "note": WEEKDAY_NOT_SENT}
    assert dated["calendar"] == {"applied": True, "last_date": LAST_DATE, "uses": WEEKDAY}
    assert dated["prediction"] != pytest.approx(plain["prediction"])  # Wednesday's term reached the model
    history = load_daily_sales(stack.settings.data)
    end = history["Electronics"].index[-1].strftime("%Y-%m-%d")
    forecast = ok(stack.api.get("/api/forecast/Electronics", params={"horizon": 2}))
    assert forecast["calendar"] == {"applied": True, "last_date": end, "uses": WEEKDAY, "note": None}
    bulk = ok(stack.api.post("/api/forecast_batch", json={"categories": ["Electronics"], "horizon": 2}))
    assert bulk["results"][0]["calendar"] == {
        "applied": True,
        "last_date": end,
        "uses": WEEKDAY,
        "note": None,
    }
    models = {model["category"]: model for model in ok(stack.api.get("/api/models"))["models"]}
    assert models["Electronics"]["weekday_input"] is True
    assert models["Electronics"]["versions"][0]["weekday_input"] is True
    assert models["Electronics"]["calendar"] is None
    assert models["Beauty"]["weekday_input"] is False
