"""The API key: admin routes need X-API-Key when one is set (401 missing, 403 wrong); predict stays open."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import API_KEY

ADMIN_CALLS = [
    ("POST", "/api/train", {"categories": ["Beauty"]}),
    ("POST", "/api/train_all", {}),
    ("GET", "/api/jobs", None),
    ("GET", "/api/jobs/abc", None),
    ("PUT", "/api/models/Beauty/default", {"version": "1"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_route_without_key_is_401(
    keyed_client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = keyed_client.request(method, path, json=body)
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_route_with_wrong_key_is_403(
    keyed_client: TestClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = keyed_client.request(method, path, json=body, headers={"X-API-Key": API_KEY + "x"})
    assert response.status_code == 403
    assert response.json() == {"detail": "wrong X-API-Key"}


def test_right_key_passes(keyed_client: TestClient) -> None:
    response = keyed_client.get("/api/jobs", headers={"X-API-Key": API_KEY})
    assert response.status_code == 200
    assert response.json() == {"jobs": []}
    missing = keyed_client.get("/api/jobs/abc", headers={"X-API-Key": API_KEY})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no job with id 'abc'"}


def test_predict_and_health_stay_open_with_a_key(keyed_client: TestClient) -> None:
    predict = keyed_client.post("/api/predict", json={"category": "Beauty", "sales": [1.0]})
    assert predict.status_code == 503  # reached the model server step: no key asked
    assert keyed_client.get("/api/health").status_code == 503
    assert keyed_client.get("/api/history/Beauty").status_code == 200


def test_protect_predict_requires_the_key_on_predict(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"api_key": API_KEY, "protect_predict": True})
    body = {"category": "Beauty", "sales": [1.0]}
    assert client.post("/api/predict", json=body).status_code == 401
    assert client.post("/api/predict/batch", json={"items": [body]}).status_code == 401
    assert client.get("/api/forecast/Beauty").status_code == 401
    assert client.post("/api/predict", json=body, headers={"X-API-Key": "nope"}).status_code == 403
    assert client.post("/api/predict", json=body, headers={"X-API-Key": API_KEY}).status_code == 503


def test_no_key_configured_leaves_admin_routes_open(client: TestClient) -> None:
    assert client.get("/api/jobs").status_code == 200
