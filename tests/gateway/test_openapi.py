"""The OpenAPI document is valid, lists every route, carries examples, and says what this gateway's
settings make true: the window and horizon limits, the key where it is enforced. (The whole document
against a running gateway: tests/gateway/test_schemathesis_cli.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.gateway.conftest import API_KEY

ROUTES = {
    ("post", "/api/predict"),
    ("post", "/api/predict/batch"),
    ("post", "/api/train"),
    ("post", "/api/train_all"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{job_id}"),
    ("post", "/api/jobs/{job_id}/cancel"),
    ("get", "/api/models"),
    ("get", "/api/models/{category}/backtest"),
    ("get", "/api/models/{category}/live"),
    ("put", "/api/models/{category}/default"),
    ("get", "/api/history/{category}"),
    ("post", "/api/datasets"),
    ("get", "/api/datasets"),
    ("put", "/api/datasets/active"),
    ("get", "/api/models/{category}/versions/{version}/plots/{name}"),
    ("get", "/api/forecast/{category}"),
    ("post", "/api/forecast_batch"),
    ("get", "/api/health"),
    ("get", "/api/schedule"),
}


ADMIN_ROUTES = {
    ("post", "/api/train"),
    ("post", "/api/train_all"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{job_id}"),
    ("post", "/api/jobs/{job_id}/cancel"),
    ("put", "/api/models/{category}/default"),
    ("post", "/api/datasets"),
    ("put", "/api/datasets/active"),
    ("get", "/api/models/{category}/versions/{version}/plots/{name}"),
}
PREDICT_ROUTES = {
    ("post", "/api/predict"),
    ("post", "/api/predict/batch"),
    ("get", "/api/forecast/{category}"),
    ("post", "/api/forecast_batch"),
}


def test_openapi_schema_is_valid_and_complete(keyed_client: TestClient) -> None:
    schema = keyed_client.get("/openapi.json").json()
    validate(schema)
    documented = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert documented == ROUTES
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
    for name in (
        "PredictRequest",
        "PredictResponse",
        "Job",
        "ModelList",
        "Health",
        "Forecast",
        "DatasetUploaded",
        "BulkForecastRequest",
        "BulkForecastResponse",
    ):
        assert schema["components"]["schemas"][name].get("examples"), name


def test_docs_page_is_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200


def test_every_documented_error_is_a_detail_string(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/api/health":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status, ref)


def _secured(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }


@pytest.mark.parametrize(
    ("gateway", "secured"),
    [
        ({}, set()),
        ({"api_key": API_KEY}, ADMIN_ROUTES),
        ({"api_key": API_KEY, "protect_predict": True}, ADMIN_ROUTES | PREDICT_ROUTES),
        ({"protect_predict": True}, set()),  # no key to protect them with
    ],
)
def test_the_key_is_declared_exactly_where_it_is_enforced(
    make_client: Callable[..., TestClient], gateway: dict[str, Any], secured: set[tuple[str, str]]
) -> None:
    client = make_client(gateway=gateway)
    schema = client.get("/openapi.json").json()
    validate(schema)
    assert _secured(schema) == secured
    assert ("securitySchemes" in schema["components"]) == bool(secured)
    # what the document says, the server does: a declared route refuses a request without the key
    jobs = client.get("/api/jobs")
    assert (jobs.status_code == 401) == (("get", "/api/jobs") in secured), jobs.text
    forecast = client.get("/api/forecast/Beauty")
    assert (forecast.status_code == 401) == (("get", "/api/forecast/{category}") in secured), forecast.text


def test_examples_and_limits_follow_the_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(
        window={"size": 56},
        forecast={"max_horizon": 7},
        gateway={"max_batch_items": 50},
        data={"categories": ["Clothing", "Beauty"]},
    )
    schema = client.get("/openapi.json").json()
    validate(schema)
    components = schema["components"]["schemas"]
    request = components["PredictRequest"]
    assert [len(example["sales"]) for example in request["examples"]] == [56, 56]
    assert request["examples"][1]["last_date"] == "2024-12-24"
    assert request["properties"]["last_date"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert request["examples"][0]["category"] == "Clothing"
    assert request["properties"]["sales"]["minItems"] == request["properties"]["sales"]["maxItems"] == 56
    assert request["properties"]["horizon"]["maximum"] == 7
    batch = components["BatchRequest"]
    assert len(batch["examples"][0]["items"][0]["sales"]) == 56
    assert batch["properties"]["items"]["maxItems"] == 50
    assert batch["properties"]["horizon"]["maximum"] == 7
    assert components["PredictResponse"]["examples"][0]["window_size"] == 56
    assert components["ErrorBody"]["examples"] == [{"detail": "expected 56 values, got 3"}]
    assert components["TrainRequest"]["examples"][0]["categories"] == ["Clothing"]
    forecast = schema["paths"]["/api/forecast/{category}"]["get"]["parameters"]
    assert {p["name"]: p["schema"].get("maximum") for p in forecast}["horizon"] == 7
    assert {p["name"]: p.get("example") for p in forecast}["category"] == "Clothing"


def test_the_documented_predict_example_is_accepted_as_far_as_the_gateway_checks(client: TestClient) -> None:
    """The model server is down here: a 503 means the body passed every check before TorchServe."""
    components = client.get("/openapi.json").json()["components"]["schemas"]
    for path, name in (("/api/predict", "PredictRequest"), ("/api/predict/batch", "BatchRequest")):
        response = client.post(path, json=components[name]["examples"][0])
        assert response.status_code == 503, (path, response.text)


def test_date_parameters_are_dates(client: TestClient) -> None:
    parameters = client.get("/openapi.json").json()["paths"]["/api/history/{category}"]["get"]["parameters"]
    formats = {p["name"]: p["schema"].get("format") for p in parameters}
    assert formats == {"category": None, "start": "date", "end": "date"}


ALLOWED_METHODS = {
    "/api/datasets": "GET, POST",
    "/api/datasets/active": "PUT",
    "/api/models/Beauty/default": "PUT",
    "/api/predict": "POST",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/api/datasets"),
        ("DELETE", "/api/datasets"),
        ("GET", "/api/datasets/active"),
        ("DELETE", "/api/models/Beauty/default"),
        ("PUT", "/api/predict"),
    ],
)
def test_a_405_lists_every_method_the_path_serves(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == ALLOWED_METHODS[path]
    assert response.json() == {"detail": "Method Not Allowed"}
