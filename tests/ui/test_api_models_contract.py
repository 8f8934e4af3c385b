"""The UI's copies of the gateway's answers (`ui/api_models.py`) match the gateway's OpenAPI document.

The UI may not import `gateway/`, so its answer models are a second description of the same JSON.
This test reads the document of the gateway's own app factory (no server) and checks every field the
UI reads: the gateway sends it, a field the UI requires is required there too, and each JSON type
the gateway may send (null included) is one the UI's annotation accepts. A gateway change that would
make the page fail ("something the UI does not understand") fails here first, in a second.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

import ui.api_models as api_models
import ui.gateway_client as gateway_client
from gateway.app import create_app
from tests.conftest import make_test_settings

Schema = dict[str, Any]

# What the UI's gateway client parses, from which answer ("METHOD path status") of which route.
READS: dict[str, type[BaseModel]] = {
    "GET /api/health 200": api_models.Health,
    "GET /api/health 503": api_models.Health,  # the client shows the status body of a 503 too
    "GET /api/models 200": api_models.ModelList,
    "GET /api/history/{category} 200": api_models.History,
    "GET /api/forecast/{category} 200": api_models.Forecast,
    "POST /api/predict 200": api_models.Prediction,
    "GET /api/models/{category}/backtest 200": api_models.Backtest,
    "GET /api/models/{category}/live 200": api_models.LiveAccuracy,
    "GET /api/datasets 200": api_models.DatasetList,
    "POST /api/datasets 201": api_models.DatasetUploaded,
    "PUT /api/datasets/active 200": api_models.Dataset,
    "POST /api/train 202": api_models.JobAccepted,
    "POST /api/train_all 202": api_models.JobAccepted,
    "GET /api/jobs/{job_id} 200": api_models.Job,
    "GET /api/jobs 200": api_models.JobList,
    "GET /api/schedule 200": api_models.Schedule,
}


class Contract:
    """Compares pydantic models with the response schemas of one OpenAPI document."""

    def __init__(self, document: Schema) -> None:
        self.document = document
        self.components: dict[str, Schema] = document.get("components", {}).get("schemas", {})

    def response_schema(self, answer: str) -> Schema:
        """The JSON schema of `answer` ("METHOD path status")."""
        method, path, status = answer.split()
        operation = self.document["paths"].get(path, {}).get(method.lower())
        assert operation is not None, f"the gateway has no {method} {path}"
        response = operation["responses"].get(status)
        assert response is not None, f"{method} {path} documents no {status} answer"
        schema: Schema = response["content"]["application/json"]["schema"]
        return schema

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def model_problems(self, model: type[BaseModel], schema: Schema, where: str) -> list[str]:
        """Every way `model` would fail to read an answer that `schema` allows."""
        schema = self.resolve(schema)
        properties: Schema = schema.get("properties", {})
        required = set(schema.get("required", []))
        problems: list[str] = []
        for name, field in model.model_fields.items():
            key = field.alias or name
            at = f"{where}.{key}"
            if key not in properties:
                problems.append(f"{at}: the UI reads it, the gateway does not send it")
                continue
            if field.is_required() and key not in required:
                problems.append(f"{at}: the UI requires it, the gateway may leave it out")
            problems += self.type_problems(field.annotation, properties[key], at)
        return problems

    def type_problems(self, annotation: Any, schema: Schema, at: str) -> list[str]:
        """What JSON `schema` allows that a value annotated `annotation` cannot hold."""
        schema = self.resolve(schema)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches is None and isinstance(schema.get("type"), list):
            branches = [{**schema, "type": kind} for kind in schema["type"]]
        if branches:
            return [problem for branch in branches for problem in self.type_problems(annotation, branch, at)]
        options = (
            get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
        )
        first: list[str] | None = None
        for option in options:
            problems = self._one_type_problems(option, schema, at)
            if not problems:
                return []
            first = first if first is not None else problems
        return first or []

    def _one_type_problems(self, annotation: Any, schema: Schema, at: str) -> list[str]:
        kind = schema.get("type")
        origin = get_origin(annotation)
        if annotation is Any:
            return []
        if kind is None and "properties" not in schema:
            return [f"{at}: the gateway may send any JSON, the UI reads {_name(annotation)}"]
        if kind == "null":
            ok = annotation is type(None)
        elif origin is Literal:
            allowed = schema.get("enum", [schema["const"]] if "const" in schema else None)
            if kind == "string" and allowed is not None and set(allowed) <= set(get_args(annotation)):
                return []
            return [f"{at}: the gateway may send {allowed or 'any ' + str(kind)}, the UI reads {annotation}"]
        elif annotation in (str, bool, int):
            ok = kind == {str: "string", bool: "boolean", int: "integer"}[annotation]
        elif annotation is float:
            ok = kind in ("number", "integer")
        elif origin is list:
            if kind != "array":
                return [f"{at}: the gateway sends {kind}, the UI reads a list"]
            return self.type_problems(get_args(annotation)[0], schema.get("items", {}), f"{at}[]")
        elif origin is dict:
            if kind != "object":
                return [f"{at}: the gateway sends {kind}, the UI reads a dict"]
            values = schema.get("additionalProperties", True)
            value_type = get_args(annotation)[1]
            if values is True:
                return [] if value_type is Any else [f"{at}: the gateway's values are any JSON"]
            return self.type_problems(value_type, values, f"{at}{{}}")
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if kind not in (None, "object"):
                return [f"{at}: the gateway sends {kind}, the UI reads an object"]
            return self.model_problems(annotation, schema, at)
        else:
            return [f"{at}: this test cannot compare {annotation!r} yet; teach it"]
        return [] if ok else [f"{at}: the gateway sends {kind}, the UI reads {_name(annotation)}"]


def _name(annotation: Any) -> str:
    return str(getattr(annotation, "__name__", annotation))


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Contract:
    """The document of the app the gateway serves (built, not started: no server, no TorchServe)."""
    settings = make_test_settings(Path(tmp_path_factory.mktemp("contract")))
    return Contract(create_app(settings).openapi())


@pytest.mark.parametrize(
    ("answer", "model"), READS.items(), ids=[f"{model.__name__}:{answer}" for answer, model in READS.items()]
)
def test_ui_model_reads_the_gateway_answer(contract: Contract, answer: str, model: type[BaseModel]) -> None:
    schema = contract.response_schema(answer)
    assert contract.model_problems(model, schema, model.__name__) == []


def test_every_ui_model_is_checked() -> None:
    """A new answer the client parses, or a new model in ui/api_models.py, needs a row in READS."""
    read = set(READS.values())
    assert _answer_models(gateway_client) == read
    defined = _answer_models(api_models)
    reached = set(_nested(read))
    shared_bases = {model for model in defined if model.__name__.startswith("_")}
    assert defined - shared_bases <= reached, defined - reached


def _answer_models(module: types.ModuleType) -> set[type[BaseModel]]:
    """The models of ui/api_models.py that `module` holds (defines or imports)."""
    return {
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == api_models.__name__
    }


def _nested(models: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    for model in models:
        yield model
        for field in model.model_fields.values():
            yield from _nested(set(_models_in(field.annotation)))


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in get_args(annotation):
        yield from _models_in(argument)


class _Drifted(BaseModel):
    """A UI model after three gateway changes it would not survive."""

    category: str
    days: str  # the gateway sends an integer
    renamed: str  # the gateway has no such field
    window_size: int  # the gateway may send null


def test_the_check_finds_drift(contract: Contract) -> None:
    schema = {
        "type": "object",
        "properties": {
            "category": {"type": "string"},
            "days": {"type": "integer"},
            "window_size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["category", "days", "window_size"],
    }
    assert contract.model_problems(_Drifted, schema, "Drifted") == [
        "Drifted.days: the gateway sends integer, the UI reads str",
        "Drifted.renamed: the UI reads it, the gateway does not send it",
        "Drifted.window_size: the gateway sends null, the UI reads int",
    ]
    optional = {**schema, "required": ["category"]}
    assert "Drifted.days: the UI requires it, the gateway may leave it out" in contract.model_problems(
        _Drifted, optional, "Drifted"
    )
    status = contract.type_problems(
        api_models.JobStatus, {"type": "string", "enum": ["queued", "paused"]}, "s"
    )
    assert status == [
        "s: the gateway may send ['queued', 'paused'], the UI reads " + str(api_models.JobStatus)
    ]
