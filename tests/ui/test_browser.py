"""The UI in a real browser: headless Chromium (Debian's, driven by Playwright) against real stacks.

Each tab renders with its chart or table, a prediction shows the number `POST /api/predict`
returns for the same inputs, and a training job started from the Train tab ends with its
metrics table. Every request the page makes stays on the UI's own origin (the UI works offline).
Screenshots of each tab go to `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from core.settings import Settings
from tests.support.ports import free_port
from tests.ui.conftest import TRAIN_CATEGORY, TRAINING_API_KEY, Stack, UiServer, ui_settings
from ui.formatting import format_sales
from ui.input_parsing import parse_sales_text

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.torchserve]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
UI_TIMEOUT_MS = 30_000
TRAINING_TIMEOUT_MS = 300_000


def chromium_path() -> str:
    """Debian's Chromium (CHROMIUM_PATH overrides); `.ci/run` installs it when missing."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"Chromium not found at {path}: install it with `apt-get install chromium` (see .ci/run)")
    return path


@pytest.fixture(scope="module")
def browser(ui_url: str, training_stack: Stack) -> Iterator[Browser]:
    """Headless Chromium. Playwright's sync API runs an event loop in this thread, and starting
    TorchServe needs `asyncio.run`, so the stacks this module uses are started first."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class OpenedPage:
    """A page on the UI that records every request it makes, for the offline check."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.url = url
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(UI_TIMEOUT_MS)
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url)

    def foreign_requests(self) -> list[str]:
        own = self.url.rstrip("/")
        return [url for url in self.requests if not url.startswith((own, "data:", "blob:"))]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser: Browser, ui_url: str) -> Iterator[OpenedPage]:
    page = OpenedPage(browser, ui_url)
    yield page
    page.close()


def _wait_until_connected(page: Page) -> None:
    expect(page.locator("#banner")).to_contain_text("the model server is ready")


def test_explore_tab_renders_chart_and_stats(opened: OpenedPage) -> None:
    page = opened.page
    _wait_until_connected(page)
    chart = page.locator("#explore-chart img")
    expect(chart).to_be_visible()
    summary = page.locator("#explore-summary")
    expect(summary).to_contain_text("Beauty")
    expect(summary).to_contain_text("Days without sales")
    expect(page.locator("#explore-message")).to_contain_text("Showing Beauty")
    # a second category and a shorter range redraw the chart and add a row
    page.locator("#explore-categories input").click()
    page.get_by_role("option", name="Electronics").click()
    page.keyboard.press("Escape")
    page.locator("#explore-start input").first.fill("2024-06-01")
    page.locator("#explore-end input").first.fill("2024-09-30")
    page.locator("#explore-show").click()
    expect(page.locator("#explore-message")).to_contain_text("Showing Beauty, Electronics from 2024-06-01")
    expect(summary).to_contain_text("Electronics")
    opened.screenshot("ui-explore.png")
    assert opened.foreign_requests() == []


def test_predict_tab_shows_the_gateway_prediction(opened: OpenedPage, gateway_url: str) -> None:
    page = opened.page
    _wait_until_connected(page)
    page.get_by_role("tab", name="Predict").click()
    expect(page.locator("#predict-window")).to_contain_text("reads the last")
    size = re.search(r"reads the last (\d+) days", page.locator("#predict-window").inner_text())
    assert size is not None
    expect(page.locator("#predict-fill")).to_have_text(f"Use the last {size.group(1)} days")
    page.locator("#predict-fill").click()
    expect(page.locator("#predict-message")).to_contain_text("Filled with Beauty's sales")
    text = page.locator("#predict-values textarea").input_value()
    sales = parse_sales_text(text)
    expect(page.locator("#predict-table")).to_contain_text(format(sales[-1], "g"))

    page.locator("#predict-run").click()
    result = page.locator("#predict-result")
    expect(result).to_contain_text("Next-day forecast for Beauty")
    expect(page.locator("#predict-chart img")).to_be_visible()
    direct = httpx.post(f"{gateway_url}/api/predict", json={"category": "Beauty", "sales": sales}, timeout=10)
    direct.raise_for_status()
    shown = re.search(r"Next-day forecast for Beauty: ([\d,.\-]+)", result.inner_text())
    assert shown is not None, result.inner_text()
    assert shown.group(1) == format_sales(direct.json()["prediction"])
    expect(result).to_contain_text(direct.json()["model_version"])
    opened.screenshot("ui-predict.png")

    # a wrong count is explained by the gateway's own message, in the page
    page.locator("#predict-values textarea").fill("1, 2, 3")
    page.locator("#predict-run").click()
    expect(page.locator("#predict-message")).to_contain_text("expected")
    expect(page.locator("#predict-message")).to_contain_text("got 3")
    opened.screenshot("ui-predict-error.png")

    page.locator("#predict-tomorrow").click()
    expect(result).to_contain_text("Forecast for Beauty on")
    assert opened.foreign_requests() == []


def test_train_tab_runs_a_job_to_its_metrics_table(browser: Browser, training_stack: Stack) -> None:
    opened = OpenedPage(browser, training_stack.ui_url)
    try:
        page = opened.page
        _wait_until_connected(page)
        page.get_by_role("tab", name="Train").click()
        page.locator("#train-categories input").click()
        page.get_by_role("option", name=TRAIN_CATEGORY).click()
        page.keyboard.press("Escape")
        page.locator("#train-experiment textarea, #train-experiment input").first.fill("ui-browser-test")
        page.locator("#train-deploy input").click()
        page.get_by_role("option", name="Always").click()
        page.locator("#train-start").click()

        status = page.locator("#train-status")
        expect(status).to_contain_text("Job")
        if "— queued" in status.inner_text() or "— running" in status.inner_text():
            expect(status.locator("progress")).to_be_visible()
            opened.screenshot("ui-train-running.png")
        expect(status).to_contain_text(re.compile("succeeded|failed"), timeout=TRAINING_TIMEOUT_MS)
        expect(status).to_contain_text("— succeeded")
        metrics = page.locator("#train-metrics")
        expect(metrics).to_contain_text("CNN-LSTM (new version)")
        expect(metrics).to_contain_text("Seasonal naive")
        outcomes = page.locator("#train-outcomes")
        expect(outcomes).to_contain_text(TRAIN_CATEGORY)
        expect(page.locator("#train-jobs")).to_contain_text("ui-browser-test")
        opened.screenshot("ui-train.png")

        # the version the page reports is the one the gateway now serves (policy "always")
        models = httpx.get(f"{training_stack.gateway_url}/api/models", timeout=10).json()["models"]
        served = next(model["default_version"] for model in models if model["category"] == TRAIN_CATEGORY)
        expect(outcomes).to_contain_text(served)
        assert TRAINING_API_KEY not in page.content()
        assert opened.foreign_requests() == []
    finally:
        opened.close()


def test_page_says_when_the_gateway_is_down(browser: Browser, test_settings: Settings) -> None:
    missing = f"http://127.0.0.1:{free_port()}"
    settings = ui_settings(test_settings, missing).with_overrides({"ui": {"port": free_port()}})
    with UiServer(settings) as ui:
        opened = OpenedPage(browser, ui.url)
        try:
            banner = opened.page.locator("#banner")
            expect(banner).to_contain_text(f"Gateway unavailable. The gateway at {missing} is not reachable")
            opened.page.get_by_role("tab", name="Predict").click()
            opened.page.locator("#predict-tomorrow").click()
            expect(opened.page.locator("#predict-message")).to_contain_text("Choose a category")
            opened.screenshot("ui-gateway-down.png")
            assert opened.foreign_requests() == []
        finally:
            opened.close()


def test_box_and_table_mirror_each_other(browser: Browser, test_settings: Settings) -> None:
    settings = ui_settings(test_settings, f"http://127.0.0.1:{free_port()}").with_overrides(
        {"ui": {"port": free_port()}}
    )
    with UiServer(settings) as ui:
        opened = OpenedPage(browser, ui.url)
        try:
            page = opened.page
            page.get_by_role("tab", name="Predict").click()
            box = page.locator("#predict-values textarea")
            box.fill("1, 2.5, 3")
            box.blur()
            table = page.locator("#predict-table")
            expect(table).to_contain_text("day 3")
            sales_cell = table.get_by_role("gridcell").nth(1)  # row 1: Day, Sales
            expect(sales_cell).to_have_text("1")
            sales_cell.dblclick()
            page.keyboard.press("Control+A")
            page.keyboard.type("40")
            page.keyboard.press("Enter")
            expect(box).to_have_value("40, 2.5, 3")
        finally:
            opened.close()
