"""Answers shared by the routers: documented errors (all `{"detail": message}`) and orjson bodies."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from gateway.schemas import ErrorBody


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
