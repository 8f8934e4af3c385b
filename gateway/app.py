"""The gateway app factory: routers, middleware, error mapping and the lifespan of shared clients.

`create_app(settings)` builds a fresh app (own metrics registry, own clients) so tests can run several
side by side. Errors always answer `{"detail": message}`: client mistakes get 4xx with a readable
message, an outage of TorchServe 503, and only a real bug in the gateway a logged 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.datasets import DatasetStore
from core.errors import SalescastError
from core.settings import Settings
from gateway.body_limit import BodyLimit, BodySizeLimitMiddleware
from gateway.fast_predict import FastPredictMiddleware
from gateway.metrics import CONTENT_TYPE, GatewayMetrics, MetricsMiddleware
from gateway.openapi import install_openapi
from gateway.routes import allowed_methods, api_router
from gateway.routes.responses import error_answer
from gateway.served_metrics import ServedVersionsCollector
from gateway.state import GatewayState
from gateway.training_metrics import TrainingMetricsCollector

log = logging.getLogger(__name__)
UPLOAD_FORM_SLACK_BYTES = 64 * 1024  # multipart boundaries and the mapping fields around the file

DESCRIPTION = """\
Next-day sales forecasts per product category, served by TorchServe.

Predict routes are open unless `gateway.protect_predict` is on; train, job, dataset and model-admin
routes need the `X-API-Key` header whenever `SALESCAST_API_KEY` is set: the operations that need it
in this gateway's configuration list it under `security`. Every error answers `{"detail": "message"}`.
"""


def create_app(settings: Settings) -> FastAPI:
    """A gateway app for `settings`; its clients open at start-up and close at shutdown."""
    training = TrainingMetricsCollector(settings.paths.jobs_db, DatasetStore(settings), settings.redis)
    served = ServedVersionsCollector()
    metrics = GatewayMetrics(training, served)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = GatewayState.open(settings, metrics)
        app.state.gateway = state
        served.watch(state.registry)
        await state.start()
        log.info(
            "gateway ready torchserve=%s jobs_db=%s",
            settings.torchserve.inference_base_url,
            settings.paths.jobs_db,
        )
        try:
            yield
        finally:
            served.watch(None)
            await state.close()
            training.close()
            log.info("gateway stopped")

    app = FastAPI(
        # salescast exports its own Prometheus metrics; FastAPI's OpenTelemetry hooks looked up the
        # global providers on every request (~5 µs each) to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="salescast gateway",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.include_router(api_router)
    install_openapi(app, settings)
    _add_error_handlers(app)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        # In a worker thread: the job store's gauges read SQLite (a first scrape parses every finished job).
        return Response(await asyncio.to_thread(metrics.render), media_type=CONTENT_TYPE)

    # Innermost first: metrics see every answer, including a 413 from the body limit; the predict
    # fast path sees only bodies within the limit.
    if settings.gateway.fast_predict:
        app.add_middleware(FastPredictMiddleware, settings=settings)
    upload = BodyLimit(
        settings.gateway.max_upload_bytes + UPLOAD_FORM_SLACK_BYTES, "gateway.max_upload_bytes"
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.gateway.max_body_bytes,
        path_limits={"/api/datasets": upload},
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"
UNPARSABLE_BODY_MESSAGE = (
    "the request body could not be read: send UTF-8 JSON with Content-Type: application/json"
)


def _add_error_handlers(app: FastAPI) -> None:
    async def salescast_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SalescastError)
        return error_answer(exc, request.method, request.url.path)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": describe_validation_errors(exc.errors())}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:
            # FastAPI's and Starlette's 400s for a body they cannot decode (JSON, multipart form): a
            # validation problem like any other (422); the gateway raises no 400 of its own.
            detail = (
                UNPARSABLE_BODY_MESSAGE
                if exc.detail == FASTAPI_UNPARSABLE_BODY
                else f"the request body could not be read: {exc.detail}"
            )
            return JSONResponse({"detail": detail}, status_code=422)
        headers = exc.headers
        if exc.status_code == 405 and (allowed := allowed_methods(request.scope["path"])):
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal gateway error ({type(exc).__name__}); see the gateway log"}, status_code=500
        )

    app.add_exception_handler(SalescastError, salescast_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


def describe_validation_errors(errors: Any) -> str:
    """Pydantic errors as one readable line: `body.sales: sales[2] must be a finite number, got nan`."""
    parts: list[str] = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        message = str(error.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        if error.get("type") == "missing":
            message = "field required"
        elif error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "json_invalid":
            message = f"invalid JSON: {error.get('ctx', {}).get('error', message)}"
        parts.append(f"{location}: {message}")
    return "; ".join(parts) or "invalid request"
