"""POST /api/predict's fast path answers exactly what the FastAPI route answers.

Two in-process gateways in front of the session's TorchServe, one with `gateway.fast_predict` and
one without, get the same requests — plain ones the fast path answers and odd ones it must hand on —
and must give the same status and body every time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from gateway.fast_predict import plain_request
from serving.torchserve_process import TorchServeProcess

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
KEY = "key-0123456789"
JSON = [(b"content-type", b"application/json")]


def _bodies(size: int) -> list[tuple[str, bytes, str]]:
    """(what, raw body, content type): requests the two paths must answer alike."""
    window = [float(100 + day) for day in range(size)]

    def body(payload: Any) -> bytes:
        return json.dumps(payload).encode()

    json_type = "application/json"
    return [
        ("plain", body({"category": "Beauty", "sales": window}), json_type),
        ("integers and any case", body({"category": "beauty", "sales": list(range(size))}), json_type),
        ("options", body({"category": "Clothing", "sales": window, "horizon": 1, "levels": [80]}), json_type),
        ("null levels", body({"category": "Electronics", "sales": window, "levels": None}), json_type),
        ("charset", body({"category": "Beauty", "sales": window}), "application/json; charset=utf-8"),
        ("horizon 2", body({"category": "Beauty", "sales": window, "horizon": 2}), json_type),
        ("horizon past the service", body({"category": "Beauty", "sales": window, "horizon": 29}), json_type),
        ("horizon as text", body({"category": "Beauty", "sales": window, "horizon": "2"}), json_type),
        ("horizon as float", body({"category": "Beauty", "sales": window, "horizon": 1.0}), json_type),
        ("horizon 0", body({"category": "Beauty", "sales": window, "horizon": 0}), json_type),
        ("levels out of range", body({"category": "Beauty", "sales": window, "levels": [10]}), json_type),
        ("levels as text", body({"category": "Beauty", "sales": window, "levels": "80"}), json_type),
        ("last date", body({"category": "Beauty", "sales": window, "last_date": "2024-12-30"}), json_type),
        ("null last date", body({"category": "Beauty", "sales": window, "last_date": None}), json_type),
        (
            "bad last date",
            body({"category": "Beauty", "sales": window, "last_date": "30/12/2024"}),
            json_type,
        ),
        (
            "last date as number",
            body({"category": "Beauty", "sales": window, "last_date": 20241230}),
            json_type,
        ),
        ("no such day", body({"category": "Beauty", "sales": window, "last_date": "2024-02-30"}), json_type),
        ("short window", body({"category": "Beauty", "sales": window[1:]}), json_type),
        ("empty window", body({"category": "Beauty", "sales": []}), json_type),
        ("unknown category", body({"category": "Garden", "sales": window}), json_type),
        ("empty category", body({"category": "", "sales": window}), json_type),
        ("numeric category", body({"category": 7, "sales": window}), json_type),
        ("extra field", body({"category": "Beauty", "sales": window, "x": 1}), json_type),
        ("missing sales", body({"category": "Beauty"}), json_type),
        ("a boolean value", body({"category": "Beauty", "sales": [True, *window[1:]]}), json_type),
        ("a text value", body({"category": "Beauty", "sales": ["1", *window[1:]]}), json_type),
        ("beyond float32", body({"category": "Beauty", "sales": [1e39, *window[1:]]}), json_type),
        ("NaN", b'{"category": "Beauty", "sales": [NaN' + b", 1.0" * (size - 1) + b"]}", json_type),
        (
            "huge integer",
            b'{"category": "Beauty", "sales": [' + b"9" * 400 + b", 1" * (size - 1) + b"]}",
            json_type,
        ),
        ("a list", body([window]), json_type),
        ("not JSON", b"{category: Beauty}", json_type),
        ("empty body", b"", json_type),
        ("text/plain", body({"category": "Beauty", "sales": window}), "text/plain"),
    ]


@pytest.fixture
def gateways(
    make_client: Callable[..., TestClient], test_settings: Settings, torchserve: TorchServeProcess
) -> Callable[..., tuple[TestClient, TestClient]]:
    """(fast, reference) gateways in front of the session's TorchServe, with `gateway` overrides."""
    served = {
        "inference_port": test_settings.torchserve.inference_port,
        "management_port": test_settings.torchserve.management_port,
    }

    def make(**gateway: Any) -> tuple[TestClient, TestClient]:
        return (
            make_client(torchserve=served, gateway={**gateway, "fast_predict": True}),
            make_client(torchserve=served, gateway={**gateway, "fast_predict": False}),
        )

    return make


def _same_answers(fast: TestClient, reference: TestClient, size: int, headers: dict[str, str]) -> None:
    for what, raw, content_type in _bodies(size):
        sent = {**headers, "content-type": content_type}
        expected = reference.post("/api/predict", content=raw, headers=sent)
        got = fast.post("/api/predict", content=raw, headers=sent)
        assert (got.status_code, got.json()) == (expected.status_code, expected.json()), what


def test_the_fast_path_answers_like_the_route(
    gateways: Callable[..., tuple[TestClient, TestClient]], test_settings: Settings
) -> None:
    fast, reference = gateways()
    _same_answers(fast, reference, test_settings.window.size, {})
    metrics = fast.get("/metrics").text
    assert 'route="/api/predict",status="200"' in metrics and "unmatched" not in metrics


@pytest.mark.parametrize("key", [None, "wrong", KEY])
def test_a_protected_predict_route_answers_alike(
    gateways: Callable[..., tuple[TestClient, TestClient]], test_settings: Settings, key: str | None
) -> None:
    fast, reference = gateways(api_key=KEY, protect_predict=True)
    headers = {} if key is None else {"X-API-Key": key}
    _same_answers(fast, reference, test_settings.window.size, headers)


def test_only_certainly_valid_requests_take_the_fast_path() -> None:
    size = 14
    taken = {
        what
        for what, raw, content_type in _bodies(size)
        if plain_request(raw, [(b"content-type", content_type.encode())], None) is not None
    }
    valid_requests = {"plain", "integers and any case", "options", "null levels", "charset", "horizon 2"}
    valid_requests |= {"last date", "null last date"}
    refused_by_predictor = {"horizon past the service", "short window", "empty window", "unknown category"}
    assert taken == valid_requests | refused_by_predictor
    plain = json.dumps({"category": "Beauty", "sales": [1.0] * size}).encode()
    key = KEY.encode()
    assert plain_request(plain, JSON, key) is None
    assert plain_request(plain, [*JSON, (b"x-api-key", b"wrong")], key) is None
    assert plain_request(plain, [*JSON, (b"x-api-key", key)], key) is not None
