"""The API key: admin routes need X-API-Key when one is set (401 missing, 403 wrong); predict stays open.
Without a key, a gateway bound beyond loopback refuses every admin write (403 naming the setting)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.api_key import with_api_key_from_file
from core.net import is_loopback
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
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


WRITE_CALLS = [call for call in ADMIN_CALLS if call[0] != "GET"]


@pytest.mark.parametrize(("method", "path", "body"), WRITE_CALLS)
def test_keyless_gateway_beyond_loopback_refuses_writes(
    make_client: Callable[..., TestClient], method: str, path: str, body: dict[str, object] | None
) -> None:
    client = make_client(gateway={"host": "0.0.0.0"})
    response = client.request(method, path, json=body)
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert "listens on 0.0.0.0 without an API key" in detail
    assert "SALESCAST_API_KEY" in detail


def test_keyless_gateway_beyond_loopback_still_reads_and_predicts(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(gateway={"host": "0.0.0.0"})
    assert client.get("/api/jobs").status_code == 200
    assert client.get("/api/history/Beauty").status_code == 200
    assert client.post("/api/predict", json={"category": "Beauty", "sales": [1.0]}).status_code == 503


def test_keyed_gateway_beyond_loopback_takes_the_key(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"host": "0.0.0.0", "api_key": API_KEY})
    body = {"version": "1"}
    assert client.put("/api/models/Beauty/default", json=body).status_code == 401
    keyed = client.put("/api/models/Beauty/default", json=body, headers={"X-API-Key": API_KEY})
    assert keyed.status_code == 503  # past the key check: TorchServe is down


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.10", False),
        ("gateway", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.slow
def test_serve_gateway_generates_the_key_file_and_requires_that_key(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "api_key"
    settings = make_test_settings(tmp_path, gateway={"api_key_file": str(key_file)})
    with GatewayProcess(settings, tmp_path / "gateway") as gateway:
        key = key_file.read_text().strip()
        body = {"version": "1"}
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            assert client.put("/api/models/Beauty/default", json=body).status_code == 401
            wrong = client.put("/api/models/Beauty/default", json=body, headers={"X-API-Key": "x"})
            assert wrong.status_code == 403
            right = client.put("/api/models/Beauty/default", json=body, headers={"X-API-Key": key})
            assert right.status_code == 503  # past the key check: TorchServe is down
    assert f"generated an API key in {key_file}" in gateway.log_tail()
    assert key not in gateway.log_tail(lines=1000)  # the log says where the key is, never the key
    assert with_api_key_from_file(settings, create=False).gateway.api_key == key  # what `serve ui` reads
