"""The UI half of the scale bench: `salescast serve ui` in front of the bench's gateway, and how long
headless Chromium takes from navigation until the category picker of the first tab (Explore) shows
a category (the page has asked the gateway for `/api/models` and filled every picker).

Without Playwright or Chromium the result says why instead of a time: the other numbers of the
bench stand without it.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from core import supervisor
from core.net import http_url
from core.settings import Settings

PAGE_LOADS = 3  # fresh browser contexts (no cache) timed one after another
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Gradio renders the first tab only; its category picker shows the first category as a token once
# the page's load events have asked the gateway for /api/health, /api/models and /api/datasets.
_PICKER_FILLED = "() => document.querySelector('#explore-categories .token') !== null"


@dataclass(frozen=True)
class PageLoad:
    """Seconds of each page load until the category picker was filled, or why there are none."""

    seconds: list[float]
    unavailable: str | None = None

    @property
    def median_s(self) -> float | None:
        return sorted(self.seconds)[len(self.seconds) // 2] if self.seconds else None


def chromium_path() -> str | None:
    """Debian's Chromium (CHROMIUM_PATH overrides), or None."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None


def measure_page_load(settings: Settings, config: Path, log_path: Path, env: Mapping[str, str]) -> PageLoad:
    """Start the UI of `settings` (written to `config`; `ui.gateway_url` points at the running
    gateway) and time `PAGE_LOADS` page loads."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return PageLoad([], "Playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        return PageLoad([], "Chromium not found (apt-get install chromium, or set CHROMIUM_PATH)")
    url = http_url(settings.ui.host, settings.ui.port)
    command = [sys.executable, "-m", "salescast", "--config", str(config), "serve", "ui"]
    process = supervisor.start_process("ui", command, log_path, env)
    timeout_ms = settings.up.health_timeout_s * 1000
    try:
        try:
            supervisor.wait_ready(process, _answers(url), settings.up.health_timeout_s)
        except supervisor.SupervisorError as exc:
            return PageLoad([], f"the UI did not start: {str(exc).splitlines()[0].rstrip(':')}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            try:
                seconds = []
                for _ in range(PAGE_LOADS):
                    context = browser.new_context()
                    page = context.new_page()
                    started = time.perf_counter()
                    page.goto(url)
                    page.wait_for_function(_PICKER_FILLED, timeout=timeout_ms)
                    seconds.append(round(time.perf_counter() - started, 3))
                    context.close()
            finally:
                browser.close()
    except PlaywrightError as exc:
        return PageLoad([], f"Chromium failed: {str(exc).splitlines()[0]}")
    finally:
        process.stop(settings.up.stop_timeout_s)
    return PageLoad(seconds)


def _answers(url: str) -> supervisor.Probe:
    def probe() -> str | None:
        status = httpx.get(f"{url}/", timeout=5.0).status_code
        return None if status == 200 else f"GET {url}/ answered {status}"

    return probe
