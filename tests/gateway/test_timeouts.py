"""A model server that accepts connections but never answers: 503 within the configured timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose server accepts every connection and never sends a byte."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


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
