"""The OpenAPI document as this gateway's settings make it true.

FastAPI documents the models as written; what follows from the settings is added here, once per app:
the window, horizon and batch limits with examples sized to them (`configured_parts` of each schema
module), a category of the data as the example of every `{category}`, and `X-API-Key` under
`security` only on the operations that refuse a request without it in this configuration (no key
set: none; a key: the admin routes, and the predict routes too with `gateway.protect_predict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from core.settings import Settings
from gateway.deps import KEY_SCOPES
from gateway.routes import api_routes
from gateway.schemas import common, forecast, jobs, models, predict, train
from gateway.schemas.common import ConfiguredParts, ServiceFacts
from gateway.security import KeyScope, key_required

_CONFIGURED: tuple[Callable[[ServiceFacts], ConfiguredParts], ...] = (
    common.configured_parts,
    predict.configured_parts,
    forecast.configured_parts,
    train.configured_parts,
    jobs.configured_parts,
    models.configured_parts,
)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve `openapi_document(app, settings)` at /openapi.json and in /docs (built on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_document(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def openapi_document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's document for `app`, with the limits, examples and security `settings` make true."""
    document = FastAPI.openapi(app)
    app.openapi_schema = None  # FastAPI caches the unadjusted document; `install_openapi` keeps this one
    facts = ServiceFacts.from_settings(settings)
    schemas = document["components"]["schemas"]
    for parts in _CONFIGURED:
        for name, part in parts(facts).items():
            _merge(schemas[name], part)
    for operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "horizon":
                parameter["schema"]["maximum"] = facts.max_horizon
            elif parameter["name"] == "category" and parameter["in"] == "path":
                parameter["example"] = facts.category
    _declare_enforced_keys(document, settings)
    return document


def _declare_enforced_keys(document: dict[str, Any], settings: Settings) -> None:
    """Drop `security` from the operations whose key check lets every request through."""
    for path, route in api_routes():
        scope = _key_scope(route.dependant)
        if not route.include_in_schema or scope is None or key_required(settings.gateway, scope):
            continue
        for method in route.methods or ():
            document["paths"][path][method.lower()].pop("security", None)
    if not any("security" in operation for operation in _operations(document)):
        document["components"].pop("securitySchemes", None)


def _key_scope(dependant: Dependant) -> KeyScope | None:
    """The key check among a route's dependencies (at any depth), if any."""
    for dependency in dependant.dependencies:
        scope = KEY_SCOPES.get(dependency.call) if dependency.call is not None else None
        if scope is None:
            scope = _key_scope(dependency)
        if scope is not None:
            return scope
    return None


def _operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in document["paths"].values():
        yield from item.values()


def _merge(target: dict[str, Any], part: dict[str, Any]) -> None:
    """`part` merged into `target`: nested dicts key by key, any other value replaced."""
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
