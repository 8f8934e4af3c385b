"""The gateway's one inference client to TorchServe: a shared pool of keep-alive connections, one timeout.

Only the inference API is called here (predictions and /ping); management calls go through
`serving.management_client.ManagementClient`. Every transport failure becomes
`ModelServerUnavailableError` (503 to the client); a 4xx from the handler becomes `InputError` with
the handler's own message, so a bad value is never reported as a server fault.

The calls go through `gateway.keepalive.KeepAlivePool` (httpx spent ~1 ms of the gateway's CPU per
call, as much as TorchServe's own work for one prediction). Bodies are encoded with orjson; the
handler's answer is parsed and checked against its shape by pydantic in one pass (a wrong shape is
a 502).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError
from typing_extensions import NotRequired, TypedDict

from gateway.errors import InputError, ModelServerError, ModelServerUnavailableError
from gateway.keepalive import KeepAlivePool, UpstreamError, UpstreamTimeoutError

log = logging.getLogger(__name__)


class ModelNotServedError(ModelServerUnavailableError):
    """TorchServe answered 404: the model (or its default version) is not registered right now."""


class NoWorkerError(ModelServerUnavailableError):
    """TorchServe answered 503 because the version has no worker (it is registered but not loaded)."""


class IntervalAnswer(TypedDict):
    level: int
    lower: float
    upper: float


class TotalAnswer(TypedDict):
    """The total of the days ahead: `gateway.schemas.common.ForecastTotal` as a plain dict (`intervals`
    absent, `note` saying why, when the version has no intervals of totals)."""

    days: int
    prediction: float
    intervals: NotRequired[list[IntervalAnswer]]
    note: NotRequired[str]


class ForecastStepAnswer(TypedDict):
    """One day ahead: `gateway.schemas.common.ForecastStep` as a plain dict. The handler leaves `date` out
    (it does not know the days); the gateway's answers carry it."""

    step: int
    date: NotRequired[str | None]
    prediction: float
    intervals: list[IntervalAnswer]


class CalendarAnswer(TypedDict):
    """How the handler used the version's calendar terms: `gateway.schemas.common.CalendarUse` as a
    plain dict (absent from the handler's answer when the version has none and no date was sent)."""

    applied: bool
    last_date: NotRequired[str]
    uses: NotRequired[list[str]]
    note: NotRequired[str]


class _SingleAnswer(TypedDict):
    prediction: float
    model_version: str
    category: NotRequired[str | None]
    window_size: int
    horizon: NotRequired[int]
    forecast: NotRequired[list[ForecastStepAnswer] | None]
    total: NotRequired[TotalAnswer | None]
    calendar: NotRequired[CalendarAnswer | None]


class _InstancesAnswer(TypedDict):
    predictions: list[float]
    model_version: str
    category: NotRequired[str | None]
    window_size: int
    horizon: NotRequired[int]
    forecasts: NotRequired[list[list[ForecastStepAnswer]] | None]
    totals: NotRequired[list[TotalAnswer] | None]
    calendar: NotRequired[CalendarAnswer | None]


_Answer = TypeVar("_Answer")
_SINGLE = TypeAdapter(_SingleAnswer)
_INSTANCES = TypeAdapter(_InstancesAnswer)


@dataclass(frozen=True)
class Prediction:
    prediction: float
    model_version: str
    window_size: int
    horizon: int
    forecast: list[ForecastStepAnswer]
    category: str | None = None  # the answering version's own category (older handlers send none)
    total: TotalAnswer | None = None  # horizon ≥ 2 (older handlers send none)
    calendar: CalendarAnswer | None = None  # a version with calendar terms, or a date sent


@dataclass(frozen=True)
class Predictions:
    predictions: list[float]
    model_version: str
    window_size: int
    horizon: int
    forecasts: list[list[ForecastStepAnswer]]
    totals: list[TotalAnswer] | None = None  # one per instance with horizon ≥ 2 (older handlers send none)
    calendar: CalendarAnswer | None = None  # the same for every instance: they share one last_date
    category: str | None = None  # the answering version's own category (older handlers send none)


class InferenceClient:
    """Calls TorchServe's inference API at `base_url` over one keep-alive pool: at most
    `max_connections` connections, `timeout_s` per call."""

    def __init__(self, base_url: str, *, timeout_s: float, max_connections: int = 100) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = KeepAlivePool(self.base_url, timeout_s=timeout_s, max_connections=max_connections)

    async def close(self) -> None:
        await self._http.close()

    async def predict(
        self,
        model_name: str,
        sales: Sequence[float],
        horizon: int = 1,
        levels: Sequence[float] | None = None,
        last_date: date | None = None,
    ) -> Prediction:
        """One forecast from the model's default version: tomorrow and up to `horizon` days ahead
        (`last_date`: the date of the last value, for the version's calendar terms)."""
        payload = _payload("sales", sales, horizon, levels, last_date)
        body, _ = await self._ask(model_name, payload, _SINGLE)
        return Prediction(
            prediction=body["prediction"],
            model_version=body["model_version"],
            window_size=body["window_size"],
            horizon=body.get("horizon", 1),
            forecast=_steps(body.get("forecast"), body["prediction"]),
            category=body.get("category"),
            total=body.get("total"),
            calendar=body.get("calendar"),
        )

    async def predict_instances(
        self,
        model_name: str,
        instances: Sequence[Sequence[float]],
        horizon: int = 1,
        levels: Sequence[float] | None = None,
        last_date: date | None = None,
    ) -> Predictions:
        """Many windows in one call (KServe v1 `instances` form), answered in order; they all end on
        `last_date` (when given)."""
        payload = _payload("instances", instances, horizon, levels, last_date)
        body, raw = await self._ask(model_name, payload, _INSTANCES)
        predictions = body["predictions"]
        if len(predictions) != len(instances):
            raise ModelServerError(
                f"model server answered {len(predictions)} predictions for {len(instances)} instances"
            )
        forecasts = body.get("forecasts")
        if forecasts is not None and len(forecasts) != len(predictions):
            raise _unexpected(model_name, raw)
        totals = body.get("totals")
        if totals is not None and len(totals) != len(predictions):
            raise _unexpected(model_name, raw)
        if forecasts is None:
            forecasts = [_steps(None, value) for value in predictions]
        else:
            for steps in forecasts:
                for step in steps:
                    step.setdefault("date", None)
        return Predictions(
            predictions=predictions,
            model_version=body["model_version"],
            window_size=body["window_size"],
            horizon=body.get("horizon", 1),
            forecasts=forecasts,
            totals=totals,
            calendar=body.get("calendar"),
            category=body.get("category"),
        )

    async def ping(self) -> str:
        """TorchServe's own health word ("Healthy"); raises ModelServerUnavailableError when down."""
        try:
            status, reason, raw = await self._http.request("GET", "/ping")
        except UpstreamError as exc:
            raise ModelServerUnavailableError(_unavailable_message(exc, self.base_url)) from exc
        if status != 200:
            raise ModelServerUnavailableError(
                f"model server is unavailable: /ping answered {status} {_message(raw, reason)}"
            )
        return str(_json(raw).get("status", "unknown"))

    async def _ask(
        self, model_name: str, payload: dict[str, Any], answer: TypeAdapter[_Answer]
    ) -> tuple[_Answer, bytes]:
        """POST `payload` to the model and check the answer's shape (a wrong one is a 502-class error)."""
        raw = await self._post(model_name, payload)
        try:
            return answer.validate_json(raw), raw
        except ValidationError as exc:
            raise _unexpected(model_name, raw) from exc

    async def _post(self, model_name: str, payload: dict[str, Any]) -> bytes:
        try:
            status, reason, raw = await self._http.request(
                "POST", f"/predictions/{model_name}", orjson.dumps(payload)
            )
        except UpstreamError as exc:
            raise ModelServerUnavailableError(_unavailable_message(exc, self.base_url)) from exc
        if status == 200:
            if not raw.strip():
                raise ModelServerError(f"model server gave an empty or non-JSON answer for {model_name}")
            return raw
        message = _message(raw, reason)
        if status == 404:
            raise ModelNotServedError(f"model server does not serve {model_name!r} right now: {message}")
        if 400 <= status < 500 or status == 507:
            raise InputError(message)
        if status == 503 and "no worker" in message:
            raise NoWorkerError(f"model server has no worker loaded for {model_name}: {message}")
        if status == 503:
            raise ModelServerUnavailableError(f"model server is unavailable for {model_name}: {message}")
        log.warning("torchserve error model=%s status=%s message=%s", model_name, status, message)
        raise ModelServerError(f"model server failed to predict with {model_name} ({status}): {message}")


def _payload(
    form: str, values: Any, horizon: int, levels: Sequence[float] | None, last_date: date | None
) -> dict[str, Any]:
    """The handler's request body; options only when they differ from its defaults (older archives
    accept the plain form)."""
    payload: dict[str, Any] = {form: values}
    if horizon != 1:
        payload["horizon"] = horizon
    if levels is not None:
        payload["levels"] = list(levels)
    if last_date is not None:
        payload["last_date"] = last_date.isoformat()
    return payload


def _steps(raw: list[ForecastStepAnswer] | None, prediction: float) -> list[ForecastStepAnswer]:
    """The handler's per-step forecast with `date` (unknown here unless it sent one); an older
    handler that sends none gives tomorrow alone."""
    if raw is None:
        return [{"step": 1, "date": None, "prediction": prediction, "intervals": []}]
    for step in raw:
        step.setdefault("date", None)
    return raw


def _unexpected(model_name: str, raw: bytes) -> ModelServerError:
    shown = raw[:500].decode("utf-8", errors="replace")
    return ModelServerError(f"model server gave an unexpected answer for {model_name}: {shown}")


def _unavailable_message(exc: UpstreamError, base_url: str) -> str:
    if isinstance(exc, UpstreamTimeoutError):
        return f"model server is unavailable: no answer from {base_url} in time ({exc})"
    return f"model server is unavailable: cannot reach {base_url} ({exc})"


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {"value": body}


def _message(raw: bytes, reason: str | None) -> str:
    body = _json(raw)
    for key in ("message", "error", "detail"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return raw.decode("utf-8", errors="replace").strip()[:500] or (reason or "")
