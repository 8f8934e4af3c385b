"""UI fixtures: the Gradio app launched on a free port in front of a real gateway, always closed.

- `ui_url`: the UI in front of the session's shared gateway + TorchServe (read-only use: never
  start a training job through it).
- `training_stack`: a private TorchServe + gateway (with an API key) + UI serving a copy of the
  session's Beauty model, for tests that train and deploy new versions.
- `offline_stack`: a real gateway whose TorchServe is down, and a UI in front of it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from core.artifacts import category_dir
from core.contracts.job_result import CategoryResult
from core.settings import Settings
from serving.archive import archive_version
from serving.torchserve_process import TorchServeProcess
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from ui.server import start

TRAIN_CATEGORY = "Beauty"
TRAINING_API_KEY = "ui-test-key-6c1f0e"
FAST_POLL_S = 0.5


@dataclass(frozen=True)
class Stack:
    """Where a running gateway and the UI in front of it answer."""

    settings: Settings
    gateway_url: str
    ui_url: str


class UiServer:
    """The Gradio app of `settings` launched in this process (non-blocking); a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.ui.host}:{self.settings.ui.port}"

    def __enter__(self) -> UiServer:
        self.app = start(self.settings)
        httpx.get(self.url, timeout=10).raise_for_status()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.app is not None:
            self.app.close()


def ui_settings(settings: Settings, gateway_url: str) -> Settings:
    """`settings` with the UI pointed at `gateway_url` and polling fast."""
    return settings.with_overrides({"ui": {"gateway_url": gateway_url, "poll_interval_s": FAST_POLL_S}})


def gradio_client(url: str) -> Client:
    """A Gradio API client of the UI that never reports analytics and downloads nothing."""
    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="session")
def ui_url(test_settings: Settings, gateway_url: str) -> Iterator[str]:
    """The UI in front of the session's gateway (do not train through it)."""
    with UiServer(ui_settings(test_settings, gateway_url)) as server:
        yield server.url


@pytest.fixture(scope="session")
def ui_client(ui_url: str) -> Client:
    """Gradio client of the session UI."""
    return gradio_client(ui_url)


@pytest.fixture(scope="session")
def training_stack(
    test_settings: Settings, trained_models: dict[str, CategoryResult], session_root: Path
) -> Iterator[Stack]:
    """A private TorchServe + gateway (API key set) + UI serving a copy of the session's Beauty model."""
    root = session_root / "ui-training"
    settings = make_test_settings(root, gateway={"api_key": TRAINING_API_KEY})
    shutil.copytree(category_dir(test_settings, TRAIN_CATEGORY), category_dir(settings, TRAIN_CATEGORY))
    archive = archive_version(settings, TRAIN_CATEGORY, trained_models[TRAIN_CATEGORY].version)
    with (
        TorchServeProcess(settings, [archive]),
        GatewayProcess(settings, root / "gateway") as gateway,
        UiServer(ui_settings(settings, gateway.url)) as ui,
    ):
        yield Stack(settings, gateway.url, ui.url)


@pytest.fixture(scope="session")
def offline_stack(session_root: Path) -> Iterator[Stack]:
    """A real gateway whose TorchServe is not running (its ports are free), and a UI in front of it."""
    root = session_root / "ui-offline"
    settings = make_test_settings(root)
    with (
        GatewayProcess(settings, root / "gateway") as gateway,
        UiServer(ui_settings(settings, gateway.url)) as ui,
    ):
        yield Stack(settings, gateway.url, ui.url)
