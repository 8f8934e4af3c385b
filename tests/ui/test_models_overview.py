"""Served models on the Train tab: each category's served version marked loaded (holds a worker) or
archived (loads on its first request), under the budget line; in a real browser against the
session's gateway, from a budgeted answer of the gateway's shape, and with the model server down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.ui.conftest import Stack, gradio_client
from tests.ui.test_browser import CHROMIUM_ARGS, OpenedPage, chromium_path
from ui.api_models import CalendarTerms, ModelList
from ui.models_overview import ARCHIVED, COLUMNS, LOADED, budget_line, calendar_cell, models_frame

BUDGETED = {  # GET /api/models of a gateway with torchserve.max_loaded_models: 3 (fields it adds are ignored)
    "models": [
        {
            "category": "Beauty",
            "model_name": "beauty",
            "default_version": "20261205.071518",
            "loaded": True,
            "classical": {"method": "weekly_profile_es", "parameters": {"alpha": 0.1}, "weight": 0.5},
            "weekday_input": True,
            "calendar": {
                "country": "US",
                "holidays": 22,
                "holidays_until": "2025-12-31",
                "yearly": True,
                "month_end": False,
            },
            "versions": [
                {
                    "version": "20261205.071518",
                    "is_default": True,
                    "loaded": True,
                    "registered_model": "salescast.beauty",
                    "registry_version": "3",
                    "aliases": ["champion"],
                    "run_id": "1a2b3c4d5e6f",
                }
            ],
        },
        {
            "category": "Books",
            "model_name": "books",
            "default_version": "20240101.000000",
            "loaded": False,
            "classical": {"method": "weekly_profile_es", "weight": 1.0},
            "fallback": {"kind": "classical_only", "reason": "40 days; the networks need 84"},
            "versions": [
                {"version": "20240101.000000", "is_default": True, "loaded": False},
                {"version": "20231201.000000", "is_default": False, "loaded": False},
            ],
        },
    ],
    "total": 2,
    "offset": 0,
    "limit": None,
    "loaded": 1,
    "archived": 1,
    "max_loaded_models": 3,
}


def test_a_budgeted_answer_shows_the_budget_and_each_state() -> None:
    listed = ModelList.model_validate(BUDGETED)
    line = budget_line(listed)
    assert "at most 3 versions loaded at once" in line and "(1 loaded, 1 archived)" in line
    frame = models_frame(listed, "http://127.0.0.1:5000/")
    assert list(frame.columns) == COLUMNS
    beauty_link = "[champion · v3](http://127.0.0.1:5000/#/models/salescast.beauty/versions/3) · run 1a2b3c4d"
    assert frame.values.tolist() == [
        [
            "Beauty",
            "20261205.071518",
            LOADED,
            "weekly profile 50 % + CNN-LSTM 50 %",
            "weekday, holidays (US), yearly",
            1,
            beauty_link,
        ],
        [
            "Books",
            "20240101.000000",
            ARCHIVED,
            "weekly profile alone (short history)",
            "—",  # no calendar terms
            2,
            "—",
        ],  # not in the registry yet
    ]
    older = ModelList.model_validate({"models": [{"category": "Beauty"}]})  # a gateway that does not say
    assert budget_line(older) == "Memory budget: none — every served category keeps its worker (1 served)."
    assert models_frame(older).values.tolist() == [["Beauty", "—", "—", "—", "—", 0, "—"]]


@pytest.mark.parametrize(
    ("terms", "cell"),
    [
        (
            {"country": "US", "holidays": 11, "holidays_until": "2025-12-31", "month_end": True},
            "holidays (US), month end",
        ),
        ({"holidays": 0, "holidays_until": "2025-12-31", "yearly": True}, "yearly"),
        ({"holidays": 0, "holidays_until": "2025-12-31"}, "—"),
        (None, "—"),
    ],
)
def test_the_calendar_column_names_each_term(terms: dict[str, Any] | None, cell: str) -> None:
    assert calendar_cell(CalendarTerms.model_validate(terms) if terms is not None else None) == cell


@pytest.fixture(scope="module")
def browser(ui_url: str) -> Iterator[Browser]:
    """Headless Chromium, launched after the UI's stack (as in test_forecast_all)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.torchserve
def test_the_train_tab_lists_each_served_version_as_the_gateway_does(
    browser: Browser, ui_url: str, gateway_url: str
) -> None:
    listed = httpx.get(f"{gateway_url}/api/models", timeout=60).json()
    assert listed["max_loaded_models"] is None  # the session's gateway has no budget: all loaded
    assert any(model["classical"] is not None for model in listed["models"])
    opened = OpenedPage(browser, ui_url)
    try:
        page = opened.page
        page.get_by_role("tab", name="Train").click()
        expect(page.locator("#models-budget")).to_contain_text(
            f"Memory budget: none — every served category keeps its worker ({listed['loaded']} loaded, "
            f"{listed['archived']} archived)."
        )
        rows = page.locator("#models-table").get_by_role("row")  # the header row, then one per category
        expect(rows).to_have_count(1 + len(listed["models"]))
        for index, model in enumerate(listed["models"], start=1):
            cells = rows.nth(index).get_by_role("gridcell")
            expect(cells.nth(0)).to_have_text(model["category"])
            expect(cells.nth(1)).to_have_text(model["default_version"])
            expect(cells.nth(2)).to_have_text(LOADED if model["loaded"] else ARCHIVED)
            classical = model["classical"]  # a trained version says what it blends, a scripted one not
            if classical is not None and model["fallback"] is None:
                expect(cells.nth(3)).to_contain_text(f"+ CNN-LSTM {100 - round(100 * classical['weight'])} %")
            terms = model.get("calendar")
            read = CalendarTerms.model_validate(terms) if terms is not None else None
            expect(cells.nth(4)).to_have_text(calendar_cell(read, model["weekday_input"]))
        opened.assert_clean()
    finally:
        opened.close()


@pytest.mark.slow
def test_the_overview_says_why_when_the_models_cannot_be_listed(offline_stack: Stack) -> None:
    message, table = gradio_client(offline_stack.ui_url).predict(api_name="/models_overview")
    assert "Could not list the served models" in message
    assert table["data"] in ([], [[None] * len(COLUMNS)], [[""] * len(COLUMNS)])
