"""The gateway's one inference client to TorchServe: a shared keep-alive httpx client, one timeout.

Only the inference API is called here (predictions and /ping); management calls go through
`serving.management_client.ManagementClient`. Every transport failure becomes
`ModelServerUnavailableError` (503 to the client); a 4xx from the handler becomes `InputError` with
the handler's own message, so a bad value is never reported as a server fault.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from gateway.errors import InputError, ModelServerError, ModelServerUnavailableError
from gateway.schemas import ForecastStep

log = logging.getLogger(__name__)


class ModelNotServedError(ModelServerUnavailableError):
    """TorchServe answered 404: the model (or its default version) is not registered right now."""


@dataclass(frozen=True)
class Prediction:
    prediction: float
    model_version: str
    window_size: int
    horizon: int
    forecast: list[ForecastStep]


@dataclass(frozen=True)
class Predictions:
    predictions: list[float]
    model_version: str
    window_size: int
    horizon: int
    forecasts: list[list[ForecastStep]]


def create_http_client(timeout_s: float, max_connections: int = 100) -> httpx.AsyncClient:
    """The shared client: keep-alive pool, one timeout for every call to TorchServe."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


class InferenceClient:
    """Calls TorchServe's inference API at `base_url` through the shared `http` client."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")

    async def predict(
        self, model_name: str, sales: Sequence[float], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> Prediction:
        """One forecast from the model's default version: tomorrow and up to `horizon` days ahead."""
        body = await self._post(model_name, _payload("sales", list(sales), horizon, levels))
        try:
            return Prediction(
                prediction=float(body["prediction"]),
                model_version=str(body["model_version"]),
                window_size=int(body["window_size"]),
                horizon=int(body.get("horizon", 1)),
                forecast=_steps(body.get("forecast"), body["prediction"]),
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ModelServerError(
                f"model server gave an unexpected answer for {model_name}: {body!r}"
            ) from exc

    async def predict_instances(
        self,
        model_name: str,
        instances: Sequence[Sequence[float]],
        horizon: int = 1,
        levels: Sequence[float] | None = None,
    ) -> Predictions:
        """Many windows in one call (KServe v1 `instances` form), answered in order."""
        body = await self._post(
            model_name, _payload("instances", [list(row) for row in instances], horizon, levels)
        )
        try:
            predictions = [float(value) for value in body["predictions"]]
            forecasts = body.get("forecasts") or [None] * len(predictions)
            result = Predictions(
                predictions=predictions,
                model_version=str(body["model_version"]),
                window_size=int(body["window_size"]),
                horizon=int(body.get("horizon", 1)),
                forecasts=[_steps(steps, value) for steps, value in zip(forecasts, predictions, strict=True)],
            )
        except (KeyError, TypeError, ValueError, ValidationError) as exc:
            raise ModelServerError(
                f"model server gave an unexpected answer for {model_name}: {body!r}"
            ) from exc
        if len(result.predictions) != len(instances):
            raise ModelServerError(
                f"model server answered {len(result.predictions)} predictions for {len(instances)} instances"
            )
        return result

    async def ping(self) -> str:
        """TorchServe's own health word ("Healthy"); raises ModelServerUnavailableError when down."""
        try:
            response = await self._http.get(f"{self.base_url}/ping")
        except httpx.HTTPError as exc:
            raise ModelServerUnavailableError(_unavailable_message(exc, self.base_url)) from exc
        if response.status_code != 200:
            raise ModelServerUnavailableError(
                f"model server is unavailable: /ping answered {response.status_code} {_message(response)}"
            )
        return str(_json(response).get("status", "unknown"))

    async def _post(self, model_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/predictions/{model_name}"
        try:
            response = await self._http.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise ModelServerUnavailableError(_unavailable_message(exc, self.base_url)) from exc
        status = response.status_code
        if status == 200:
            body = _json(response)
            if not body:
                raise ModelServerError(f"model server gave an empty or non-JSON answer for {model_name}")
            return body
        message = _message(response)
        if status == 404:
            raise ModelNotServedError(f"model server does not serve {model_name!r} right now: {message}")
        if 400 <= status < 500 or status == 507:
            raise InputError(message)
        if status == 503:
            raise ModelServerUnavailableError(f"model server is unavailable for {model_name}: {message}")
        log.warning("torchserve error model=%s status=%s message=%s", model_name, status, message)
        raise ModelServerError(f"model server failed to predict with {model_name} ({status}): {message}")


def _payload(form: str, values: Any, horizon: int, levels: Sequence[float] | None) -> dict[str, Any]:
    """The handler's request body; options only when they differ from its defaults (older archives
    accept the plain form)."""
    payload: dict[str, Any] = {form: values}
    if horizon != 1:
        payload["horizon"] = horizon
    if levels is not None:
        payload["levels"] = list(levels)
    return payload


def _steps(raw: Any, prediction: Any) -> list[ForecastStep]:
    """The handler's per-step forecast; an older handler that sends none gives tomorrow alone."""
    if raw is None:
        return [ForecastStep(step=1, prediction=float(prediction))]
    return [ForecastStep.model_validate(step) for step in raw]


def _unavailable_message(exc: httpx.HTTPError, base_url: str) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"model server is unavailable: no answer from {base_url} in time ({type(exc).__name__})"
    return f"model server is unavailable: cannot reach {base_url} ({type(exc).__name__}: {exc})"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {"value": body}


def _message(response: httpx.Response) -> str:
    body = _json(response)
    for key in ("message", "error", "detail"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return response.text.strip()[:500] or response.reason_phrase
