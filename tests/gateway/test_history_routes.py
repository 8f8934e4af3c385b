"""GET /api/history/{category}: training's loader, date slicing, clear 404/422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.sales_data import load_daily_sales
from core.settings import Settings


def test_history_matches_the_training_loader(client: TestClient, offline_settings: Settings) -> None:
    expected = load_daily_sales(offline_settings.data)["Beauty"]
    body = client.get("/api/history/Beauty").json()
    assert body["category"] == "Beauty"
    assert body["days"] == len(expected) == len(body["sales"]) == len(body["dates"])
    assert body["start"] == expected.index[0].strftime("%Y-%m-%d")
    assert body["end"] == expected.index[-1].strftime("%Y-%m-%d")
    assert body["sales"] == pytest.approx(expected.to_list())


def test_history_range_is_inclusive(client: TestClient) -> None:
    body = client.get("/api/history/beauty", params={"start": "2023-03-01", "end": "2023-03-07"}).json()
    assert body["category"] == "Beauty"
    assert body["dates"] == [f"2023-03-0{day}" for day in range(1, 8)]
    assert body["days"] == 7


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"start": "2023-13-01"}, "start must be a date as YYYY-MM-DD, got '2023-13-01'"),
        ({"end": "yesterday"}, "end must be a date as YYYY-MM-DD, got 'yesterday'"),
        ({"start": ""}, "start must be a date as YYYY-MM-DD, got ''"),  # `format: date`, as documented
        ({"end": "2023-03-01T10:00"}, "end must be a date as YYYY-MM-DD, got '2023-03-01T10:00'"),
        ({"end": "20230301"}, "end must be a date as YYYY-MM-DD, got '20230301'"),
        ({"start": "2023-03-07", "end": "2023-03-01"}, "start (2023-03-07) is after end (2023-03-01)"),
    ],
)
def test_history_bad_dates_are_422(client: TestClient, params: dict[str, str], expected: str) -> None:
    response = client.get("/api/history/Beauty", params=params)
    assert response.status_code == 422
    assert response.json() == {"detail": expected}


def test_history_unknown_category_is_404_naming_the_known(client: TestClient) -> None:
    response = client.get("/api/history/Toys")
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "unknown category 'Toys'; categories in the data: Beauty, Clothing, Electronics"
    )


def test_history_range_outside_the_data_is_empty(client: TestClient) -> None:
    body = client.get("/api/history/Beauty", params={"start": "1990-01-01", "end": "1990-02-01"}).json()
    assert body == {"category": "Beauty", "start": None, "end": None, "days": 0, "dates": [], "sales": []}


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({"end": "0565-03-25"}, 0),  # found by Schemathesis: pandas could not slice by year 565 (a 500)
        ({"start": "9999-12-31"}, 0),
        ({"start": "0001-01-01", "end": "2023-01-03"}, 3),
        ({"start": "2024-12-29", "end": "9999-12-31"}, 2),  # the data ends on 2024-12-30
    ],
)
def test_history_days_far_outside_the_data_are_clamped(
    client: TestClient, params: dict[str, str], days: int
) -> None:
    response = client.get("/api/history/Beauty", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["days"] == days
