"""Gateway test helpers: in-process apps (TestClient, no TorchServe) on isolated settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from gateway.app import create_app
from tests.conftest import make_test_settings

API_KEY = "test-key-0123456789"


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """Settings whose TorchServe ports are free (nothing listens): the model server is down."""
    return make_test_settings(tmp_path)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Start an in-process gateway (lifespan included) with settings overrides; all closed at the end."""
    clients: list[TestClient] = []

    def make(**overrides: dict[str, Any]) -> TestClient:
        settings = make_test_settings(tmp_path / f"app{len(clients)}", **overrides)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """An in-process gateway with the model server down and no API key."""
    return make_client()


@pytest.fixture
def keyed_client(make_client: Callable[..., TestClient]) -> TestClient:
    """An in-process gateway whose admin routes need API_KEY."""
    return make_client(gateway={"api_key": API_KEY})
