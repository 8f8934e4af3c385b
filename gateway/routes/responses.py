"""Answers shared by the routers: documented errors (all `{"detail": message}`) and orjson bodies."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi.responses import JSONResponse

from core.errors import SalescastError
from gateway.errors import GatewayError
from gateway.schemas.common import ErrorBody

log = logging.getLogger(__name__)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses."""
    text = {
        401: "API key missing",
        403: "API key wrong",
        404: "Unknown category, job or version",
        409: "Conflicts with a queued or running job",
        413: "Request body too large",
        422: "Invalid values (the message says what was expected)",
        429: "Training queue full (see Retry-After)",
        502: "Model server answered with an error",
        503: "Model server (or data file) unavailable",
    }
    return {code: {"model": ErrorBody, "description": text.get(code, "Error")} for code in codes}


class OrjsonResponse(JSONResponse):
    """A prediction answer already shaped like its documented `response_model`, sent as is: FastAPI
    would validate it against the model again before encoding it."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_answer(exc: SalescastError, method: str, path: str) -> JSONResponse:
    """A failure a user can meet: a GatewayError with its own status (logged when it is the server's
    side), any other SalescastError as 422."""
    if not isinstance(exc, GatewayError):
        return JSONResponse({"detail": str(exc)}, status_code=422)
    if exc.status_code >= 500:
        log.warning("%s %s -> %d: %s", method, path, exc.status_code, exc.message)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=exc.headers)
