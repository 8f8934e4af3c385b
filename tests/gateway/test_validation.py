"""Requests the gateway must refuse on its own, before TorchServe is involved (in-process app)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

VALID = [float(value) for value in range(14)]


def post_raw(client: TestClient, path: str, text: str) -> tuple[int, dict[str, object]]:
    response = client.post(path, content=text, headers={"Content-Type": "application/json"})
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("sales", "expected"),
    [
        ("[1, NaN, 3]", "sales[1] must be a finite number"),
        ("[1, Infinity]", "sales[1] must be a finite number"),
        ("[1, -Infinity]", "sales[1] must be a finite number"),
        ('[1, "abc"]', "sales[1] must be a number, got 'abc'"),
        ('["12"]', "sales[0] must be a number"),
        ("[true]", "sales[0] must be a number, got True"),
        ("[null]", "sales[0] must be a number, got None"),
        ("[1e39]", "outside the float32 range"),
        ("[-1e308]", "outside the float32 range"),
        ("[1e400]", "must be a finite number"),
        ("[1, " + "9" * 400 + "]", "sales[1] is an integer outside the float32 range"),
        ("[-" + "9" * 400 + "]", "sales[0] is an integer outside the float32 range"),
        ('"1,2,3"', "list"),
    ],
)
def test_predict_rejects_bad_values_with_422(client: TestClient, sales: str, expected: str) -> None:
    status, body = post_raw(client, "/api/predict", f'{{"category": "Beauty", "sales": {sales}}}')
    assert status == 422
    assert expected in str(body["detail"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"sales": [1, 2]}', "category: field required"),
        ('{"category": "Beauty"}', "sales: field required"),
        ('{"category": "Beauty", "sales": [1], "extra": 1}', "extra: unknown field"),
        ('{"category": "Beauty", "sales": [1', "invalid JSON"),
        ("[1, 2, 3]", "dictionary"),
        ("", "field required"),
    ],
)
def test_predict_rejects_malformed_bodies_with_readable_422(
    client: TestClient, text: str, expected: str
) -> None:
    status, body = post_raw(client, "/api/predict", text)
    assert status == 422
    assert isinstance(body["detail"], str)
    assert expected in body["detail"]


def test_predict_answers_503_when_model_server_is_down(client: TestClient) -> None:
    response = client.post("/api/predict", json={"category": "Beauty", "sales": VALID})
    assert response.status_code == 503
    assert "model server is unavailable" in response.json()["detail"]


def test_batch_answers_503_when_model_server_is_down(client: TestClient) -> None:
    response = client.post("/api/predict/batch", json={"items": [{"category": "Beauty", "sales": VALID}]})
    assert response.status_code == 503
    assert "model server is unavailable" in response.json()["detail"]


def test_batch_over_the_item_limit_is_422(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"max_batch_items": 3})
    items = [{"category": "Beauty", "sales": VALID}] * 4
    response = client.post("/api/predict/batch", json={"items": items})
    assert response.status_code == 422
    assert response.json()["detail"] == "at most 3 items per batch, got 4"


def test_batch_horizon_beyond_the_service_limit_is_422_for_the_whole_batch(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(forecast={"max_horizon": 7})
    body = {"items": [{"category": "Beauty", "sales": VALID}], "horizon": 8}
    response = client.post("/api/predict/batch", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == "horizon must be from 1 to 7 days, got 8"


def test_empty_batch_is_422(client: TestClient) -> None:
    response = client.post("/api/predict/batch", json={"items": []})
    assert response.status_code == 422
    assert "items" in response.json()["detail"]


def test_body_over_the_limit_is_413_by_content_length(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"max_body_bytes": 1000})
    sales = [1.0] * 1_000_000
    response = client.post("/api/predict", json={"category": "Beauty", "sales": sales})
    assert response.status_code == 413
    assert "limit is 1000 bytes" in response.json()["detail"]


def test_streamed_body_over_the_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"max_body_bytes": 1000})

    def chunks() -> Iterator[bytes]:
        yield b'{"category": "Beauty", "sales": ['
        for _ in range(200):
            yield b"1.0, " * 10
        yield b"1.0]}"

    response = client.post("/api/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "more than 1000 bytes" in response.json()["detail"]


def test_body_within_the_limit_reaches_the_route(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"max_body_bytes": 1000})
    response = client.post("/api/predict", content=json.dumps({"category": "Beauty", "sales": [float("1")]}))
    assert response.status_code != 413


def test_health_is_503_with_the_same_body_when_model_server_is_down(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["gateway"] == "ok"
    assert body["torchserve"]["status"] == "unavailable"
    assert "model server is unavailable" in body["torchserve"]["detail"]


def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.get("/api/predict")
    assert response.status_code == 405
    assert "detail" in response.json()


def test_undecodable_body_is_a_readable_422(client: TestClient) -> None:
    response = client.post(
        "/api/predict", content=b'{"category": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "UTF-8 JSON" in response.json()["detail"]
