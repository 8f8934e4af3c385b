"""Failures the gateway turns into HTTP answers: each carries its status and a message for the client."""

from __future__ import annotations

from core.errors import SalescastError


class GatewayError(SalescastError):
    """Base of every failure the gateway answers with `{"detail": message}` and `status_code`."""

    status_code = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class UnknownCategoryError(GatewayError):
    """The client named a category nobody serves (or that the data does not hold)."""

    status_code = 404


class NotFoundError(GatewayError):
    """A job id or model version that does not exist."""

    status_code = 404


class InputError(GatewayError):
    """The request is well-formed JSON but its values are wrong (length, range, dates)."""

    status_code = 422


class PayloadTooLargeError(GatewayError):
    """An upload is larger than its configured limit."""

    status_code = 413


class ConflictError(GatewayError):
    """The request clashes with work already queued or running."""

    status_code = 409


class QueueFullError(GatewayError):
    """The training queue is full; the client should retry after `retry_after_s` seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class ModelServerUnavailableError(GatewayError):
    """TorchServe cannot be reached, timed out, or has no ready worker."""

    status_code = 503


class ModelServerError(GatewayError):
    """TorchServe answered with an error that is not the client's fault."""

    status_code = 502


class DataUnavailableError(GatewayError):
    """The configured sales data file cannot be read; a server-side problem, not the client's."""

    status_code = 503
