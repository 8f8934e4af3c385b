"""Hostile inputs get a 4xx with a JSON message, never a 5xx or a crash: huge and deeply nested
bodies, wrong content types, path characters and unicode in category names, absurd numbers.
(A batch answers 200 with a 4xx per bad item, as its contract says.)"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.reliability.conftest import ReliabilityStack

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]

WINDOW = [float(v) for v in range(14)]


def _cases() -> list[tuple[str, str, str, dict[str, str], bytes]]:
    """(name, method, path, headers, body)."""
    json_type = {"content-type": "application/json"}
    nested = b'{"category": "Beauty", "sales": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    nested_object = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    return [
        (
            "10 MB body",
            "POST",
            "/api/predict",
            json_type,
            b'{"category": "Beauty", "sales": [' + b"1.0," * 2_500_000 + b"1.0]}",
        ),
        ("10 MB batch", "POST", "/api/predict/batch", json_type, b" " * 10_000_000),
        ("deeply nested list", "POST", "/api/predict", json_type, nested),
        ("deeply nested object", "POST", "/api/predict/batch", json_type, nested_object),
        ("nested train body", "POST", "/api/train", json_type, nested_object),
        (
            "text/plain",
            "POST",
            "/api/predict",
            {"content-type": "text/plain"},
            json.dumps({"category": "Beauty", "sales": WINDOW}).encode(),
        ),
        (
            "xml",
            "POST",
            "/api/predict",
            {"content-type": "application/xml"},
            b"<predict><category>Beauty</category></predict>",
        ),
        (
            "form",
            "POST",
            "/api/predict",
            {"content-type": "application/x-www-form-urlencoded"},
            b"category=Beauty&sales=1",
        ),
        ("no content type", "POST", "/api/predict", {}, b"\x00\x01\x02"),
        ("not utf-8 json", "POST", "/api/predict", json_type, b"\xff\xfe\xfa"),
        ("empty body", "POST", "/api/predict", json_type, b""),
        ("json null", "POST", "/api/predict", json_type, b"null"),
        (
            "NaN literal",
            "POST",
            "/api/predict",
            json_type,
            b'{"category": "Beauty", "sales": [NaN' + b", 1" * 13 + b"]}",
        ),
        (
            "1e308 window",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "Beauty", "sales": [1e308] * 14}).encode(),
        ),
        (
            "1e999 window",
            "POST",
            "/api/predict",
            json_type,
            b'{"category": "Beauty", "sales": [' + b"1e999," * 13 + b"1e999]}",
        ),
        (
            "-1e308 batch",
            "POST",
            "/api/predict/batch",
            json_type,
            json.dumps({"items": [{"category": "Beauty", "sales": [-1e308] * 14}]}).encode(),
        ),
        (
            "../ category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "../../etc/passwd", "sales": WINDOW}).encode(),
        ),
        (
            "../ before a real category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "../Beauty", "sales": WINDOW}).encode(),
        ),
        (
            "NUL after a real category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "Beauty\u0000", "sales": WINDOW}).encode(),
        ),
        (
            "unicode category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "Beauté ☃ 𝔅 \u202e", "sales": WINDOW}).encode(),
        ),
        (
            "NUL category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "\u0000../model_store", "sales": WINDOW}).encode(),
        ),
        (
            "long category",
            "POST",
            "/api/predict",
            json_type,
            json.dumps({"category": "x" * 100_000, "sales": WINDOW}).encode(),
        ),
        ("../ history", "GET", "/api/history/..%2F..%2Fetc%2Fpasswd", {}, b""),
        ("unicode history", "GET", "/api/history/%F0%9D%94%85%E2%98%83", {}, b""),
        ("../ forecast", "GET", "/api/forecast/..%2Fmodel_store", {}, b""),
        ("../ train", "POST", "/api/train", json_type, json.dumps({"categories": ["../Beauty"]}).encode()),
        (
            "../ default",
            "PUT",
            "/api/models/..%2F..%2Fbeauty/default",
            json_type,
            json.dumps({"version": "../../x"}).encode(),
        ),
        (
            "bad version",
            "PUT",
            "/api/models/Beauty/default",
            json_type,
            json.dumps({"version": "../" * 1000}).encode(),
        ),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case[0])
def test_hostile_input_gets_a_4xx(
    reliability_stack: ReliabilityStack, case: tuple[str, str, str, dict[str, str], bytes]
) -> None:
    name, method, path, headers, body = case
    stack = reliability_stack
    response = httpx.request(
        method, f"{stack.url}{path}", content=body, headers={**headers, **stack.headers}, timeout=30.0
    )
    if path == "/api/predict/batch" and response.status_code == 200:
        # the batch contract: each bad item gets its own 4xx inside a 200 answer
        items = response.json()["results"]
        assert items and all(400 <= item["status"] < 500 for item in items), f"{name}: {response.text[:300]}"
    else:
        assert 400 <= response.status_code < 500, f"{name}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), name
    health = httpx.get(f"{stack.url}/api/health", timeout=10.0)
    assert health.status_code == 200, f"gateway unhealthy after {name}: {health.text[:300]}"
