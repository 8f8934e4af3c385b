"""Forecast all categories, in a real browser: the Predict tab's button asks the session's gateway for
every category at once and the file it offers holds exactly the gateway's numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.ui.conftest import Stack, gradio_client
from tests.ui.test_browser import CHROMIUM_ARGS, OpenedPage, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.torchserve]
HORIZON = 2
CATEGORIES = ["Beauty", "Clothing", "Electronics"]


@pytest.fixture(scope="module")
def browser(ui_url: str) -> Iterator[Browser]:
    """Headless Chromium, launched after the UI's stack (starting TorchServe needs `asyncio.run`,
    which Playwright's event loop in this thread would refuse)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def test_forecast_all_offers_the_gateways_csv(browser: Browser, ui_url: str, gateway_url: str) -> None:
    opened = OpenedPage(browser, ui_url)
    try:
        page = opened.page
        expect(page.locator("#banner")).to_contain_text("the model server is ready")
        page.get_by_role("tab", name="Predict").click()
        page.get_by_text("Forecast all categories", exact=True).first.click()  # opens the section
        expect(page.locator("#forecast-all-download")).to_be_hidden()
        page.locator("#forecast-all-horizon input").fill(str(HORIZON))
        page.locator("#forecast-all-run").click()
        expect(page.locator("#forecast-all-message")).to_contain_text(
            f"Forecast 3 of 3 categories {HORIZON} day(s) ahead."
        )
        with page.expect_download() as download:
            page.locator("#forecast-all-download").click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
        opened.assert_clean()
    finally:
        opened.close()
    answer = httpx.post(f"{gateway_url}/api/forecast_batch", json={"horizon": HORIZON}, timeout=120).json()
    expected = [
        (item["category"], step["date"], step["step"], step["prediction"], item["model_version"])
        for item in answer["results"]
        for step in item["forecast"]
    ]
    assert [row["category"] for row in rows] == [category for category in CATEGORIES for _ in range(HORIZON)]
    shown = [
        (row["category"], row["date"], int(row["step"]), float(row["prediction"]), row["model_version"])
        for row in rows
    ]
    assert shown == expected
    assert all(float(row["lower_80"]) <= float(row["prediction"]) <= float(row["upper_80"]) for row in rows)


def test_forecast_all_says_why_when_the_model_server_is_down(offline_stack: Stack) -> None:
    message, download = gradio_client(offline_stack.ui_url).predict(HORIZON, api_name="/forecast_all")
    assert "sc-error" in message and "Service unavailable: model server is unavailable" in message
    assert download["visible"] is False and download["value"] is None  # no file from an earlier click stays
