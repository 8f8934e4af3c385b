"""`POST /api/predict`'s plain requests answered as pure ASGI, before FastAPI's routing.

FastAPI's per-request work — routing through the included routers, solving the route's
dependencies, validating the body into `PredictRequest` — cost ~0.17 ms of CPU per prediction on
the 2-core bench machine, as much as the rest of the gateway together and an eighth of TorchServe's
own cost. A request that is plainly valid — `Content-Type: application/json`, exactly the documented
fields with values of exactly the documented types, the API key when `gateway.protect_predict` asks
for one — is answered here by the same `Predictor` into the same answer and errors. Anything else
goes on, untouched, to the FastAPI route, which stays the reference: the OpenAPI document and every
message about a malformed request come from it. `gateway.fast_predict: false` sends everything there.
"""

from __future__ import annotations

import hmac
from datetime import date
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from core.errors import SalescastError
from core.settings import Settings
from gateway.body_limit import replay_body
from gateway.predictions import sales_values
from gateway.routes import predict as predict_routes
from gateway.routes.responses import OrjsonResponse, error_answer
from gateway.schemas.common import check_last_date, check_levels
from gateway.security import API_KEY_HEADER, key_required
from gateway.state import GatewayState

PATH = "/api/predict"
_FIELDS = frozenset(("category", "sales", "horizon", "levels", "last_date"))
_API_KEY_HEADER = API_KEY_HEADER.lower().encode()
PlainRequest = tuple[str, list[float], int, "list[float] | None", "date | None"]


class FastPredictMiddleware:
    """Answers plain `POST /api/predict` requests; passes every other request to `app` unchanged."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        gateway = settings.gateway
        self.api_key = (
            gateway.api_key.encode("utf-8") if gateway.api_key and key_required(gateway, "predict") else None
        )
        # The route this stands in for: the metrics name requests after its path template.
        self.route = next(
            route
            for route in predict_routes.router.routes
            if isinstance(route, APIRoute) and route.path == "/predict"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        request = plain_request(body, scope["headers"], self.api_key) if complete else None
        if request is None:
            await self.app(scope, replay_body(body, receive), send)
            return
        state: GatewayState = scope["app"].state.gateway
        scope["route"], scope["path_params"] = self.route, {}
        try:
            answer: Any = OrjsonResponse(await state.predictor.predict(*request))
        except SalescastError as exc:
            answer = error_answer(exc, "POST", PATH)
        await answer(scope, receive, send)


def plain_request(
    body: bytes, headers: list[tuple[bytes, bytes]], api_key: bytes | None
) -> PlainRequest | None:
    """(category, sales, horizon, levels, last_date) when the request is certainly a valid
    `PredictRequest` (its key included), else None: the FastAPI route then answers it (a bad
    `last_date` included, so its message is the route's)."""
    content_type = given_key = None
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == _API_KEY_HEADER:
            given_key = value
    if content_type is None or content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return None
    if api_key is not None and (
        # read like Starlette reads a header (latin-1), compared like gateway.security compares keys
        given_key is None or not hmac.compare_digest(given_key.decode("latin-1").encode("utf-8"), api_key)
    ):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _FIELDS:
        return None
    category, sales = data.get("category"), data.get("sales")
    horizon, levels, last_date = data.get("horizon", 1), data.get("levels"), data.get("last_date")
    if type(category) is not str or not category or type(sales) is not list:
        return None
    if type(horizon) is not int or horizon < 1 or (levels is not None and type(levels) is not list):
        return None
    if last_date is not None and type(last_date) is not str:
        return None
    try:
        return category, sales_values(sales), horizon, check_levels(levels), check_last_date(last_date)
    except ValueError:
        return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and False when the client went away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True
