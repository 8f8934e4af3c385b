"""The OpenAPI document is valid, lists every route, and carries examples."""

from __future__ import annotations

from fastapi.testclient import TestClient
from openapi_spec_validator import validate

ROUTES = {
    ("post", "/api/predict"),
    ("post", "/api/predict/batch"),
    ("post", "/api/train"),
    ("post", "/api/train_all"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{job_id}"),
    ("get", "/api/models"),
    ("get", "/api/models/{category}/backtest"),
    ("put", "/api/models/{category}/default"),
    ("get", "/api/history/{category}"),
    ("post", "/api/datasets"),
    ("get", "/api/datasets"),
    ("put", "/api/datasets/active"),
    ("get", "/api/models/{category}/versions/{version}/plots/{name}"),
    ("get", "/api/forecast/{category}"),
    ("get", "/api/health"),
}


def test_openapi_schema_is_valid_and_complete(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
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
