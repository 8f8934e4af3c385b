"""The UI in a real browser: headless Chromium (Debian's, driven by Playwright) against real stacks.

Each tab renders with its interactive chart or table, a prediction shows the number
`POST /api/predict` returns for the same inputs, and a person goes from a messy CSV the test writes
itself to a served, explained forecast: upload, activate, train, predict. Every request the page
makes stays on the UI's own origin (the UI works offline) and the console stays free of errors.
Screenshots of each tab go to `test-artifacts/screenshots/`; with SALESCAST_UPDATE_DOCS_IMAGES=1 the
ones the README and docs/ui.md show are also copied to `docs/images/`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright

from core.settings import Settings
from tests.support.messy_csv import MESSY_CATEGORIES, write_messy_csv
from tests.support.ports import free_port
from tests.ui.conftest import TRAINING_API_KEY, Stack, UiServer, ui_settings
from ui.formatting import format_sales
from ui.input_parsing import parse_sales_text

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.torchserve]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DOCS_IMAGES = REPO_ROOT / "docs" / "images"
DOCS_SCREENSHOTS = {
    "ui-explore.png",
    "ui-predict.png",
    "ui-data.png",
    "ui-train.png",
    "ui-train-running.png",
    "ui-backtest.png",
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
UI_TIMEOUT_MS = 30_000
expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions wait as long as actions: CI shares 2 busy cores
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
        self.console_errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        self.page.goto(url)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def foreign_requests(self) -> list[str]:
        own = self.url.rstrip("/")
        return [url for url in self.requests if not url.startswith((own, "data:", "blob:"))]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        if os.environ.get("SALESCAST_UPDATE_DOCS_IMAGES") == "1" and name in DOCS_SCREENSHOTS:
            shutil.copyfile(path, DOCS_IMAGES / name)
        return path

    def assert_clean(self) -> None:
        """Offline (no request off the UI's origin) and no error in the console."""
        assert self.foreign_requests() == []
        assert self.console_errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser: Browser, ui_url: str) -> Iterator[OpenedPage]:
    page = OpenedPage(browser, ui_url)
    yield page
    page.close()


def _wait_until_connected(page: Page) -> None:
    expect(page.locator("#banner")).to_contain_text("the model server is ready")


def _choose(page: Page, field: str, option: str) -> None:
    page.locator(f"#{field} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def _plotly(page: Page, chart: str) -> None:
    """The chart is an interactive plotly graph: drawn, with its zoom and pan controls (the first chart
    of a page loads Gradio's plotly.js, a few MB: allow for a busy machine)."""
    expect(page.locator(f"#{chart} .js-plotly-plot")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator(f"#{chart} .modebar-btn[data-title*='Zoom']").first).to_be_attached()


def test_explore_tab_renders_chart_and_stats(opened: OpenedPage) -> None:
    page = opened.page
    _wait_until_connected(page)
    _plotly(page, "explore-chart")
    summary = page.locator("#explore-summary")
    expect(summary).to_contain_text("Beauty")
    expect(summary).to_contain_text("Days without sales")
    expect(page.locator("#explore-message")).to_contain_text("Showing Beauty")
    # a second category and a shorter range redraw the chart and add a row
    _choose(page, "explore-categories", "Electronics")
    page.locator("#explore-start textarea, #explore-start input").first.fill("2024-06-01")
    page.locator("#explore-end textarea, #explore-end input").first.fill("2024-09-30")
    page.locator("#explore-show").click()
    expect(page.locator("#explore-message")).to_contain_text("Showing Beauty, Electronics from 2024-06-01")
    expect(summary).to_contain_text("Electronics")
    # dates carry their year, and the legend is below the plot area, not over the data
    expect(page.locator("#explore-chart .xtick").first).to_contain_text("2024-")
    legend = page.locator("#explore-chart .legend").bounding_box()
    plot_area = page.locator("#explore-chart .nsewdrag").first.bounding_box()
    assert legend is not None and plot_area is not None
    assert legend["y"] >= plot_area["y"] + plot_area["height"]
    # hovering the chart shows the values of that day
    page.locator("#explore-chart .nsewdrag").first.hover()
    expect(
        page.locator("#explore-chart .hoverlayer .legend, #explore-chart .hoverlayer .hovertext").first
    ).to_be_attached()
    with page.expect_download() as download:
        page.locator("#explore-download").click()
    assert Path(download.value.path()).read_text(encoding="utf-8").startswith("date,category,sales")
    opened.screenshot("ui-explore.png")
    # issue 13: a date that is not one was ignored; now it is an error naming the data's range
    page.locator("#explore-start textarea, #explore-start input").first.fill("abc")
    page.locator("#explore-show").click()
    expect(page.locator("#explore-message")).to_contain_text("From must be a date as YYYY-MM-DD, got 'abc'")
    expect(page.locator("#explore-message")).to_contain_text("the data covers 2023-01-01 to 2024-12-30")
    opened.assert_clean()


def test_date_fields_fit_a_1400_pixel_window(browser: Browser, ui_url: str) -> None:
    """Issue 13: the calendar buttons of the date fields were clipped at 1400 px."""
    opened = OpenedPage(browser, ui_url)
    try:
        opened.page.set_viewport_size({"width": 1400, "height": 900})
        _wait_until_connected(opened.page)
        for field in ("explore-start", "explore-end", "explore-window"):
            box = opened.page.locator(f"#{field}").bounding_box()
            inner = opened.page.locator(f"#{field} textarea, #{field} input").first.bounding_box()
            assert box is not None and inner is not None
            assert inner["x"] >= box["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"] + 1
            assert box["x"] + box["width"] <= 1400
    finally:
        opened.close()


def test_predict_tab_shows_the_gateway_prediction(opened: OpenedPage, gateway_url: str) -> None:
    page = opened.page
    _wait_until_connected(page)
    page.get_by_role("tab", name="Predict").click()
    expect(page.locator("#predict-window")).to_contain_text("reads the last")
    size = re.search(r"reads the last (\d+) days", page.locator("#predict-window").inner_text())
    assert size is not None
    expect(page.locator("#predict-fill")).to_have_text(f"Use the last {size.group(1)} days")
    models = httpx.get(f"{gateway_url}/api/models", timeout=10).json()["models"]
    limit = next(model["max_horizon"] for model in models if model["category"] == "Beauty")
    expect(page.locator("#predict-horizon input")).to_have_attribute("max", str(limit))  # not a UI constant
    page.locator("#predict-fill").click()
    expect(page.locator("#predict-message")).to_contain_text("Filled with Beauty's sales")
    text = page.locator("#predict-values textarea").input_value()
    sales = parse_sales_text(text)
    expect(page.locator("#predict-table")).to_contain_text(format(sales[-1], "g"))
    last_date = page.locator("#predict-last-date").get_by_role("textbox").input_value()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", last_date), last_date  # the history's last day, sent with them

    page.locator("#predict-run").click()
    result = page.locator("#predict-result")
    expect(result).to_contain_text("Next-day forecast for Beauty")
    _plotly(page, "predict-chart")
    expect(page.locator("#predict-chart .legendtext", has_text="seasonal naive")).to_be_attached()
    expect(page.locator("#predict-chart .legendtext", has_text="history")).to_be_attached()
    body = {"category": "Beauty", "sales": sales, "last_date": last_date}
    direct = httpx.post(f"{gateway_url}/api/predict", json=body, timeout=10)
    direct.raise_for_status()
    shown = re.search(r"Next-day forecast for Beauty: ([\d,.\-]+)", result.inner_text())
    assert shown is not None, result.inner_text()
    assert shown.group(1) == format_sales(direct.json()["prediction"])
    expect(result).to_contain_text(direct.json()["model_version"])
    with page.expect_download() as download:
        page.locator("#predict-download").click()
    assert Path(download.value.path()).read_text(encoding="utf-8").startswith("date,forecast,seasonal_naive")
    opened.screenshot("ui-predict.png")

    # issue 23: several days ahead show their total with its own interval, on a line of its own
    days = min(7, limit)
    page.locator("#predict-horizon input").fill(str(days))
    page.locator("#predict-run").click()
    body = {"category": "Beauty", "sales": sales, "horizon": days, "last_date": last_date}
    total = httpx.post(f"{gateway_url}/api/predict", json=body, timeout=10).json()["total"]
    expect(result).to_contain_text(f"Total of {days} days: {format_sales(total['prediction'])}")
    low, high = (format_sales(total["intervals"][0][side]) for side in ("lower", "upper"))
    expect(result).to_contain_text(f"{total['intervals'][0]['level']} %: {low} – {high}")
    page.locator("#predict-horizon input").fill("1")

    # issue 13: choosing another category refills everything from it (nothing of Beauty stays)
    _choose(page, "predict-category", "Clothing")
    expect(page.locator("#predict-message")).to_contain_text("Filled with Clothing's sales")
    expect(result).not_to_contain_text("Beauty")
    assert page.locator("#predict-values textarea").input_value() != text

    # a wrong count is explained by the gateway's own message, in the page
    page.locator("#predict-values textarea").fill("1, 2, 3")
    page.locator("#predict-run").click()
    expect(page.locator("#predict-message")).to_contain_text("expected")
    expect(page.locator("#predict-message")).to_contain_text("got 3")
    opened.screenshot("ui-predict-error.png")

    # issue 13: values far outside the history get a warning beside their forecast
    page.locator("#predict-values textarea").fill(", ".join(["1e12"] * int(size.group(1))))
    page.locator("#predict-run").click()
    expect(page.locator("#predict-message")).to_contain_text("far outside Clothing's history")

    # issue 13: "Forecast tomorrow" draws the same chart
    page.locator("#predict-tomorrow").click()
    expect(result).to_contain_text("Forecast for Clothing on")
    _plotly(page, "predict-chart")
    expect(page.locator("#predict-chart .legendtext", has_text="seasonal naive")).to_be_attached()
    opened.assert_clean()


def test_backtest_tab_draws_actual_model_and_baselines(opened: OpenedPage, gateway_url: str) -> None:
    route = "/api/models/{category}/backtest"
    if route not in httpx.get(f"{gateway_url}/openapi.json", timeout=10).json()["paths"]:
        pytest.skip(f"GET {route} is not in this gateway yet (issue 12 adds it)")
    page = opened.page
    _wait_until_connected(page)
    page.get_by_role("tab", name="Backtest").click()
    _choose(page, "backtest-category", "Beauty")
    expect(page.locator("#backtest-message")).to_contain_text("test days from")
    expect(page.locator("#backtest-message")).to_contain_text("Live accuracy")
    _plotly(page, "backtest-chart")
    for name in ("actual", "model", "Seasonal naive"):
        expect(page.locator("#backtest-chart .legendtext", has_text=name).first).to_be_attached()
    expect(page.locator("#backtest-metrics")).to_contain_text("RMSE")
    opened.screenshot("ui-backtest.png")
    opened.assert_clean()


def test_own_csv_to_a_served_explained_forecast(
    browser: Browser, training_stack: Stack, tmp_path: Path
) -> None:
    """A messy export the test writes itself: upload, activate, train its new category, predict with it."""
    csv = write_messy_csv(tmp_path / "shop export 2024.csv")
    opened = OpenedPage(browser, training_stack.ui_url)
    headers = {"X-API-Key": TRAINING_API_KEY}
    try:
        page = opened.page
        _wait_until_connected(page)
        page.get_by_role("tab", name="Data").click()
        page.locator("#data-file input[type=file]").set_input_files(str(csv))
        expect(page.locator("#data-preview")).to_contain_text("Order Date")
        expect(page.locator("#data-preview")).to_contain_text("=HYPERLINK")  # a formula is shown as text
        page.locator("#data-upload").click()
        expect(page.locator("#data-message")).to_contain_text("Checked and stored shop export 2024.csv")
        summary = page.locator("#data-summary")
        for category in MESSY_CATEGORIES:
            expect(summary).to_contain_text(category)
        expect(page.locator("#data-notes")).to_contain_text("amount column 'Net Sales'")
        page.locator("#data-activate").click()
        expect(page.locator("#data-activate-message")).to_contain_text("is now the active dataset")
        expect(page.locator("#data-datasets")).to_contain_text("shop export 2024.csv")
        opened.screenshot("ui-data.png")

        page.get_by_role("tab", name="Train").click()
        _choose(page, "train-categories", "Café Crème")
        page.locator("#train-experiment textarea, #train-experiment input").first.fill("ui-browser-test")
        _choose(page, "train-deploy", "Always")
        page.locator("#train-start").click()
        status = page.locator("#train-status")
        expect(status).to_contain_text("Job")
        expect(page.locator("#train-jobs")).to_contain_text("ui-browser-test")  # listed while it runs
        if "— succeeded" not in status.inner_text():
            # the training process starts (imports torch, Lightning, MLflow) before its first epoch
            expect(status).to_contain_text(re.compile(r"epoch \d+/\d+|deploying|succeeded"), timeout=120_000)
            opened.screenshot("ui-train-running.png")
        expect(status).to_contain_text(re.compile("succeeded|failed"), timeout=TRAINING_TIMEOUT_MS)
        expect(status).to_contain_text("— succeeded")
        expect(status.locator("a.sc-mlflow")).to_have_attribute(
            "href", re.compile(r"/#/experiments/\d+/runs/")
        )
        expect(page.locator("#train-metrics")).to_contain_text("CNN-LSTM (new version)")
        expect(page.locator("#train-plots img").first).to_be_visible()
        _plotly(page, "train-loss")
        outcomes = page.locator("#train-outcomes")
        expect(outcomes).to_contain_text("Café Crème")
        opened.screenshot("ui-train.png")

        # the new category is served now: the Predict tab offers it and forecasts from its history
        page.get_by_role("tab", name="Predict").click()
        _choose(page, "predict-category", "Café Crème")
        expect(page.locator("#predict-message")).to_contain_text("Filled with Café Crème's sales")
        page.locator("#predict-run").click()
        expect(page.locator("#predict-result")).to_contain_text("Next-day forecast for Café Crème")
        _plotly(page, "predict-chart")
        models = httpx.get(f"{training_stack.gateway_url}/api/models", timeout=10).json()["models"]
        served = next(model["default_version"] for model in models if model["category"] == "Café Crème")
        expect(page.locator("#predict-result")).to_contain_text(served)
        assert TRAINING_API_KEY not in page.content()
        opened.assert_clean()
    finally:
        opened.close()
        httpx.put(
            f"{training_stack.gateway_url}/api/datasets/active",
            json={"dataset_id": "default"},
            headers=headers,
        ).raise_for_status()


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


def _edit_cell(table: Locator, cell: Locator, value: str) -> None:
    """Type `value` into a table cell as a user does. The keys wait for the cell's editor to have the
    focus: on two busy cores, keys typed right after the double click reached the grid instead."""
    cell.dblclick()
    expect(table.locator("textarea[aria-label='Edit cell']:focus")).to_have_count(1)
    table.page.keyboard.press("Control+A")
    table.page.keyboard.type(value)
    table.page.keyboard.press("Enter")


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
            _edit_cell(table, sales_cell, "40")
            expect(box).to_have_value("40, 2.5, 3")
            # issue 13: an entry that is not a number shows in both, and the message names it
            box.fill("40, abc, 3")
            box.blur()
            expect(table.get_by_role("gridcell").nth(3)).to_have_text("abc")
            check = page.locator("#predict-entry-check")
            expect(check).to_contain_text("value 2 ('abc') is not a number")
            # fixing the cell in the table fixes the box, and the check with it
            bad_cell = table.get_by_role("gridcell").nth(3)
            _edit_cell(table, bad_cell, "2")
            expect(box).to_have_value("40, 2, 3")
            expect(check).not_to_contain_text("not a number")
        finally:
            opened.close()
