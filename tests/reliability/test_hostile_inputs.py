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
JSON_TYPE = {"content-type": "application/json"}
Case = tuple[str, str, str, dict[str, str], bytes]


def _json_post(name: str, path: str, payload: object) -> Case:
    """A POST of `payload` as well-formed JSON: the values, not the encoding, are hostile."""
    return (name, "POST", path, JSON_TYPE, json.dumps(payload).encode())


def _cases() -> list[Case]:
    """(name, method, path, headers, body)."""
    nested = b'{"category": "Beauty", "sales": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    nested_object = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    return [
        (
            "10 MB body",
            "POST",
            "/api/predict",
            JSON_TYPE,
            b'{"category": "Beauty", "sales": [' + b"1.0," * 2_500_000 + b"1.0]}",
        ),
        ("10 MB batch", "POST", "/api/predict/batch", JSON_TYPE, b" " * 10_000_000),
        ("deeply nested list", "POST", "/api/predict", JSON_TYPE, nested),
        ("deeply nested object", "POST", "/api/predict/batch", JSON_TYPE, nested_object),
        ("nested train body", "POST", "/api/train", JSON_TYPE, nested_object),
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
        ("not utf-8 json", "POST", "/api/predict", JSON_TYPE, b"\xff\xfe\xfa"),
        ("empty body", "POST", "/api/predict", JSON_TYPE, b""),
        ("json null", "POST", "/api/predict", JSON_TYPE, b"null"),
        (
            "NaN literal",
            "POST",
            "/api/predict",
            JSON_TYPE,
            b'{"category": "Beauty", "sales": [NaN' + b", 1" * 13 + b"]}",
        ),
        _json_post("1e308 window", "/api/predict", {"category": "Beauty", "sales": [1e308] * 14}),
        (
            "1e999 window",
            "POST",
            "/api/predict",
            JSON_TYPE,
            b'{"category": "Beauty", "sales": [' + b"1e999," * 13 + b"1e999]}",
        ),
        _json_post(
            "-1e308 batch", "/api/predict/batch", {"items": [{"category": "Beauty", "sales": [-1e308] * 14}]}
        ),
        _json_post("../ category", "/api/predict", {"category": "../../etc/passwd", "sales": WINDOW}),
        _json_post("../ before a real category", "/api/predict", {"category": "../Beauty", "sales": WINDOW}),
        _json_post(
            "NUL after a real category", "/api/predict", {"category": "Beauty\u0000", "sales": WINDOW}
        ),
        _json_post("unicode category", "/api/predict", {"category": "Beauté ☃ 𝔅 \u202e", "sales": WINDOW}),
        _json_post("NUL category", "/api/predict", {"category": "\u0000../model_store", "sales": WINDOW}),
        _json_post("long category", "/api/predict", {"category": "x" * 100_000, "sales": WINDOW}),
        ("../ history", "GET", "/api/history/..%2F..%2Fetc%2Fpasswd", {}, b""),
        ("unicode history", "GET", "/api/history/%F0%9D%94%85%E2%98%83", {}, b""),
        ("../ forecast", "GET", "/api/forecast/..%2Fmodel_store", {}, b""),
        _json_post("../ train", "/api/train", {"categories": ["../Beauty"]}),
        (
            "../ default",
            "PUT",
            "/api/models/..%2F..%2Fbeauty/default",
            JSON_TYPE,
            json.dumps({"version": "../../x"}).encode(),
        ),
        (
            "bad version",
            "PUT",
            "/api/models/Beauty/default",
            JSON_TYPE,
            json.dumps({"version": "../" * 1000}).encode(),
        ),
    ]


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case[0])
def test_hostile_input_gets_a_4xx(reliability_stack: ReliabilityStack, case: Case) -> None:
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
