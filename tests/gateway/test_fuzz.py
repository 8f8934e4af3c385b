"""Schema-driven fuzzing of every route (schemathesis, in-process app, model server down):
whatever a client sends, the answer is never a 500 and errors are `{"detail": …}`."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

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


# One test per operation and mode (not `schema.parametrize()`: on pytest 9 its items share one test
# id, and the parallel runner keeps one item per id).
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", list(OPERATIONS))
def test_no_input_causes_a_500(label: str, mode: GenerationMode) -> None:
    def answer(case: Any) -> None:
        response = case.call(headers={"X-API-Key": API_KEY})
        assert response.status_code != 500, response.text
        if response.status_code >= 400 and case.path != "/api/health":
            assert isinstance(response.json()["detail"], str), response.text

    strategy = OPERATIONS[label].as_strategy(generation_mode=mode)
    run = settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))(
        given(case=strategy)(answer)
    )
    if mode is GenerationMode.POSITIVE:
        run()
        return
    with contextlib.suppress(Unsatisfiable):  # e.g. no negative case exists for a parameterless GET
        run()
