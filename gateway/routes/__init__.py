"""One router per resource; `api_router` mounts them all under /api.

`api_routes()` lists every API route with its full path and `allowed_methods(path)` every method
served at a path: the OpenAPI document's security and a 405's `Allow` header are built from them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from gateway.routes import (
    datasets,
    forecast,
    forecast_batch,
    health,
    history,
    jobs,
    live_accuracy,
    models,
    plots,
    predict,
    schedule,
    train,
)

API_PREFIX = "/api"
ROUTERS = tuple(
    module.router
    for module in (
        predict,
        train,
        jobs,
        models,
        live_accuracy,
        plots,
        history,
        datasets,
        forecast,
        forecast_batch,
        health,
        schedule,
    )
)
api_router = APIRouter(prefix=API_PREFIX)
for _router in ROUTERS:
    api_router.include_router(_router)


def api_routes() -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, in the order the routers match them."""
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield API_PREFIX + route.path, route


_PATHS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (compile_path(path)[0], frozenset(route.methods or ())) for path, route in api_routes()
]


def allowed_methods(path: str) -> list[str]:
    """Every method some API route serves at `path` (the router's own 405 names only the methods of
    the first route whose path matched, e.g. POST but not GET for /api/datasets)."""
    return sorted({method for pattern, methods in _PATHS if pattern.match(path) for method in methods})
