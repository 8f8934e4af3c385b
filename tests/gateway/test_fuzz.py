"""Schema-driven fuzzing of every route (schemathesis, in-process app, model server down):
whatever a client sends, the answer is never a 500 and errors are `{"detail": …}`."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from gateway.app import create_app
from tests.conftest import make_test_settings
from tests.gateway.conftest import API_KEY

# Nothing is written until the app starts (in the fixture), so collecting this module leaves no files.
_ROOT = Path(tempfile.gettempdir()) / f"salescast-gateway-fuzz-{os.getpid()}"
_APP = create_app(make_test_settings(_ROOT, gateway={"api_key": API_KEY}))
# Valid train bodies would start real training jobs: those routes are covered by the live tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP).exclude(path_regex="^/api/train")


@pytest.fixture(scope="module", autouse=True)
def _running_app() -> Iterator[None]:
    with TestClient(_APP):
        yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_500(case: Any) -> None:
    response = case.call(headers={"X-API-Key": API_KEY})
    assert response.status_code != 500, response.text
    if response.status_code >= 400 and case.path != "/api/health":
        assert isinstance(response.json()["detail"], str), response.text
