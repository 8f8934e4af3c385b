"""The gateway client's error messages: unreachable, silent, and each HTTP error the gateway sends."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.silent_server import silent_server
from ui.gateway_client import (
    API_KEY_HEADER,
    GatewayClient,
    GatewayError,
    GatewayUnavailableError,
    error_detail,
    format_detail,
)


@pytest.fixture
def hung_gateway() -> Iterator[str]:
    """A gateway URL whose server accepts connections and never answers."""
    with silent_server() as port:
        yield f"http://127.0.0.1:{port}"


def _response(status: int, body: Any = None, text: str | None = None, **headers: str) -> httpx.Response:
    request = httpx.Request("POST", "http://gw/api/predict")
    if text is not None:
        return httpx.Response(status, text=text, request=request, headers=headers)
    return httpx.Response(status, json=body, request=request, headers=headers)


def test_unreachable_gateway_says_where_and_how_to_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = GatewayClient(url, timeout_s=2)
    with pytest.raises(GatewayUnavailableError) as caught:
        client.models()
    message = str(caught.value)
    assert f"The gateway at {url} is not reachable (connection refused)" in message
    assert "SALESCAST_GATEWAY_URL" in message
    assert caught.value.status_code is None


def test_hung_gateway_times_out_with_the_configured_timeout(hung_gateway: str) -> None:
    client = GatewayClient(hung_gateway, timeout_s=0.3)
    with pytest.raises(GatewayUnavailableError, match=r"did not answer GET /api/jobs within 0.3 s"):
        client.jobs()


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (_response(422, {"detail": "expected 14 values, got 3"}), "expected 14 values, got 3"),
        (
            _response(404, {"detail": "unknown category 'Toys'; known: Beauty"}),
            "unknown category 'Toys'; known: Beauty",
        ),
        (
            _response(503, {"detail": "the model server is unavailable"}),
            "Service unavailable: the model server is unavailable",
        ),
        (
            _response(429, {"detail": "training queue is full"}, **{"Retry-After": "30"}),
            "(try again in 30 s)",
        ),
        (_response(401, {"detail": "missing X-API-Key"}), "set SALESCAST_API_KEY in the UI's environment"),
        (_response(403, {"detail": "wrong key"}), "rejected the UI's API key"),
        (
            _response(500, text="Internal Server Error"),
            "The gateway failed (HTTP 500): Internal Server Error",
        ),
        (_response(502, text=""), "HTTP 502 Bad Gateway"),
    ],
)
def test_http_errors_become_readable_messages(response: httpx.Response, expected: str) -> None:
    client = GatewayClient("http://gw", timeout_s=1)
    error = client._error_for(response)
    assert isinstance(error, GatewayError)
    assert expected in str(error)
    assert error.status_code == response.status_code


def test_fastapi_validation_lists_are_flattened() -> None:
    detail = [
        {"loc": ["body", "sales", 2], "msg": "Input should be a valid number", "type": "float_parsing"},
        {"loc": ["body", "category"], "msg": "Field required", "type": "missing"},
    ]
    assert error_detail(_response(422, {"detail": detail})) == (
        "sales[2]: Input should be a valid number; category: Field required"
    )
    assert format_detail(None) == ""
    assert format_detail({"msg": "bad"}) == "bad"


def test_api_key_is_sent_but_never_shown() -> None:
    client = GatewayClient("http://gw", timeout_s=1, api_key="s3cret")
    assert client._http.headers[API_KEY_HEADER] == "s3cret"
    assert "s3cret" not in repr(client)
    assert API_KEY_HEADER not in GatewayClient("http://gw", timeout_s=1)._http.headers


@contextlib.contextmanager
def _closing_first_gateway(requests: list[bytes]) -> Iterator[str]:
    """A loopback server that reads the first request and closes the connection without an answer
    (a keep-alive connection closed just as it was reused), then answers every later one."""
    server = socket.create_server(("127.0.0.1", 0))
    body = b'{"status": "ok", "torchserve": {"status": "Healthy"}}'

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                request = b""
                while b"\r\n\r\n" not in request and (chunk := connection.recv(65536)):
                    request += chunk
                requests.append(request)
                if len(requests) > 1:
                    connection.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()
        thread.join(timeout=5)


def test_a_read_is_sent_again_when_the_gateway_closes_the_connection_unanswered() -> None:
    requests: list[bytes] = []
    with _closing_first_gateway(requests) as url:
        client = GatewayClient(url, timeout_s=5.0)
        assert client.health().status == "ok"
        client.close()
    assert [request.split(b" ", 2)[:2] for request in requests] == [[b"GET", b"/api/health"]] * 2


def test_a_write_is_never_sent_twice() -> None:
    requests: list[bytes] = []
    with _closing_first_gateway(requests) as url:
        client = GatewayClient(url, timeout_s=5.0)
        with pytest.raises(GatewayUnavailableError, match="is not reachable"):
            client.predict("Beauty", [1.0] * 56)
        client.close()
    assert len(requests) == 1 and requests[0].startswith(b"POST /api/predict")
