"""A model server that accepts connections but never answers: 503 within the configured timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.support.silent_server import silent_server


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose server accepts every connection and never sends a byte."""
    with silent_server() as port:
        yield port


def test_a_hanging_model_server_gives_503_within_the_timeout(
    make_client: Callable[..., TestClient], silent_port: int
) -> None:
    client = make_client(
        gateway={"predict_timeout_s": 0.5},
        torchserve={"inference_port": silent_port, "management_port": silent_port},
    )
    start = time.monotonic()
    response = client.post("/api/predict", json={"category": "Beauty", "sales": [1.0] * 14})
    elapsed = time.monotonic() - start
    assert response.status_code == 503
    assert "model server is unavailable" in response.json()["detail"]
    assert elapsed < 5.0
    health = client.get("/api/health")
    assert health.status_code == 503
    assert "no answer" in health.json()["torchserve"]["detail"]
