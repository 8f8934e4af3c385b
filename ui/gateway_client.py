"""A typed, synchronous HTTP client of the gateway's /api, with errors worded for the page.

Every failure becomes a `GatewayError` whose message a person can act on: the gateway is not
reachable (and how to point the UI at it), it timed out, it refused the API key, or it rejected
the request (its own `detail`, e.g. "expected 14 values, got 3"). Gradio runs handlers in worker
threads; one `httpx.Client` (thread-safe, keep-alive) serves them all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from core.errors import SalescastError
from core.settings import DeployPolicy, Settings
from ui.api_models import (
    Backtest,
    Dataset,
    DatasetList,
    DatasetUploaded,
    Forecast,
    Health,
    History,
    Job,
    JobAccepted,
    JobList,
    LiveAccuracy,
    ModelList,
    Prediction,
    Schedule,
)

API_KEY_HEADER = "X-API-Key"
KEEPALIVE_EXPIRY_S = 2.0
"""Idle connections are dropped after this, below uvicorn's 5 s keep-alive that closes them at the
gateway's end: a connection is then rarely reused just as the gateway closes it."""
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
"""httpx.Client's own pool sizes, spelled out: a `Limits` given without them would have no limit."""
SAFE_TO_REPEAT = frozenset({"GET", "HEAD"})
"""Methods sent again once when the gateway closed the reused connection without an answer."""
_log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=BaseModel)


class GatewayError(SalescastError):
    """A gateway call failed; `str(error)` is the message to show, `status_code` the HTTP status if any."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class GatewayUnavailableError(GatewayError):
    """The gateway could not be reached or did not answer in time."""


class GatewayClient:
    """Calls the gateway at `base_url`; the API key (if any) is sent as X-API-Key and never exposed."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        upload_timeout_s: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.upload_timeout_s = upload_timeout_s or timeout_s
        headers = {API_KEY_HEADER: api_key} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            headers=headers,
            transport=transport,
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS,
                max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
                keepalive_expiry=KEEPALIVE_EXPIRY_S,
            ),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayClient:
        """Client for `ui.gateway_url`, `ui.request_timeout_s` and `gateway.api_key` (SALESCAST_API_KEY)."""
        return cls(
            settings.ui.gateway_url,
            timeout_s=settings.ui.request_timeout_s,
            api_key=settings.gateway.api_key,
            upload_timeout_s=settings.ui.upload_timeout_s,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __repr__(self) -> str:  # never print the key
        return f"GatewayClient({self.base_url!r}, timeout_s={self.timeout_s})"

    # ---- routes ---------------------------------------------------------------------------------

    def health(self) -> Health:
        """Gateway and TorchServe status; a 503 still carries the status body, so it is not an error."""
        response = self._send("GET", "/api/health")
        if response.status_code not in (200, 503):
            raise self._error_for(response)
        return self._parse(response, Health)

    def models(self) -> ModelList:
        """Every category with its served version, window size and test metrics."""
        return self._call("GET", "/api/models", ModelList)

    def history(self, category: str, start: str | None = None, end: str | None = None) -> History:
        """The daily series of `category`, optionally limited to `start`..`end` (YYYY-MM-DD, inclusive)."""
        params = {key: value for key, value in (("start", start), ("end", end)) if value}
        return self._call("GET", f"/api/history/{_segment(category)}", History, params=params)

    def forecast(self, category: str, horizon: int = 1) -> Forecast:
        """Tomorrow's forecast (`horizon` > 1: that many days) from the last N days of the stored history.
        A horizon of 1 is not sent, so a gateway without multi-day forecasts answers as before."""
        params = {"horizon": str(horizon)} if horizon > 1 else None
        return self._call("GET", f"/api/forecast/{_segment(category)}", Forecast, params=params)

    def forecast_all_csv(self, horizon: int, *, timeout_s: float) -> str:
        """Every category's forecast `horizon` days ahead as the gateway's CSV (`POST /api/forecast_batch`);
        it may run every category's model, hence its own `timeout_s`."""
        response = self._send(
            "POST",
            "/api/forecast_batch",
            params={"format": "csv"},
            json={"horizon": horizon},
            timeout=timeout_s,
            timeout_setting="ui.forecast_all_timeout_s",
        )
        if response.is_error:
            raise self._error_for(response)
        return response.text

    def predict(
        self, category: str, sales: Sequence[float], horizon: int = 1, last_date: str | None = None
    ) -> Prediction:
        """The next day's forecast (`horizon` > 1: that many days) from `sales` (the last N daily totals,
        oldest first); `last_date` (YYYY-MM-DD, the last value's day) lets a version with calendar
        terms apply them. Options are sent only when set, so an older gateway answers as before."""
        body: dict[str, Any] = {"category": category, "sales": list(sales)}
        if horizon > 1:
            body["horizon"] = horizon
        if last_date:
            body["last_date"] = last_date
        return self._call("POST", "/api/predict", Prediction, json=body)

    def backtest(self, category: str) -> Backtest:
        """The served version's held-out test days: actual vs the model and each baseline."""
        return self._call("GET", f"/api/models/{_segment(category)}/backtest", Backtest)

    def live_accuracy(self, category: str) -> LiveAccuracy:
        """The served version's logged forecasts scored against the days that came after."""
        return self._call("GET", f"/api/models/{_segment(category)}/live", LiveAccuracy)

    def version_plot(self, category: str, version: str, name: str) -> bytes:
        """A PNG saved with a trained version (`loss` or `forecast`)."""
        path = f"/api/models/{_segment(category)}/versions/{_segment(version)}/plots/{_segment(name)}"
        response = self._send("GET", path)
        if response.is_error:
            raise self._error_for(response)
        return response.content

    def datasets(self) -> DatasetList:
        """Every dataset (the configured file first), with the active one flagged."""
        return self._call("GET", "/api/datasets", DatasetList)

    def upload_dataset(
        self, file_name: str, content: bytes, columns: Mapping[str, str | None], date_format: str | None
    ) -> DatasetUploaded:
        """Upload a sales file; `columns` maps `date`/`category`/`amount` to a column (None = detect)."""
        form = {f"{role}_column": name for role, name in columns.items() if name}
        if date_format:
            form["date_format"] = date_format
        files = {"file": (file_name, content, "text/csv")}
        response = self._send("POST", "/api/datasets", data=form, files=files, timeout=self.upload_timeout_s)
        if response.is_error:
            raise self._error_for(response)
        return self._parse(response, DatasetUploaded)

    def activate_dataset(self, dataset_id: str) -> Dataset:
        """Make `dataset_id` the dataset history, forecasts and new training jobs read."""
        return self._call("PUT", "/api/datasets/active", Dataset, json={"dataset_id": dataset_id})

    def train(
        self, categories: Sequence[str], experiment_name: str | None, deploy: DeployPolicy | None
    ) -> JobAccepted:
        """Queue a training job for `categories`; the answer holds the job id to poll."""
        body: dict[str, Any] = {"categories": list(categories)}
        return self._call(
            "POST", "/api/train", JobAccepted, json=_with_options(body, experiment_name, deploy)
        )

    def train_all(self, experiment_name: str | None, deploy: DeployPolicy | None) -> JobAccepted:
        """Queue a training job for every category of the data."""
        body = _with_options({}, experiment_name, deploy)
        return self._call("POST", "/api/train_all", JobAccepted, json=body)

    def job(self, job_id: str) -> Job:
        """One job's status, per-category outcome and metrics."""
        return self._call("GET", f"/api/jobs/{_segment(job_id)}", Job)

    def jobs(self) -> JobList:
        """Recent jobs, newest first."""
        return self._call("GET", "/api/jobs", JobList)

    def schedule(self) -> Schedule:
        """Scheduled retraining: next run, last run and why."""
        return self._call("GET", "/api/schedule", Schedule)

    # ---- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[_Model],
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> _Model:
        response = self._send(method, path, params=params, json=json)
        if response.is_error:
            raise self._error_for(response)
        return self._parse(response, model)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        timeout_setting: str = "ui.upload_timeout_s",
    ) -> httpx.Response:
        wait = timeout or self.timeout_s
        request = self._http.build_request(
            method, path, params=params, json=json, data=data, files=files, timeout=wait
        )
        try:
            return self._send_retrying_a_closed_read(request)
        except httpx.TimeoutException:
            setting = "ui.request_timeout_s" if timeout is None else timeout_setting
            raise GatewayUnavailableError(
                f"The gateway at {self.base_url} did not answer {method} {path} within "
                f"{wait:g} s ({setting}). It may be busy; try again."
            ) from None
        except httpx.TransportError as exc:
            raise GatewayUnavailableError(
                f"The gateway at {self.base_url} is not reachable ({_reason(exc)}). Start it with "
                "`salescast serve gateway`, or point the UI at it with SALESCAST_GATEWAY_URL."
            ) from None

    def _send_retrying_a_closed_read(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; a read the gateway dropped unanswered (an idle keep-alive connection it
        closed just as it was reused) is safe to send again once, on a new connection."""
        try:
            return self._http.send(request)
        except httpx.RemoteProtocolError:
            if request.method not in SAFE_TO_REPEAT:
                raise
            return self._http.send(request)

    def _parse(self, response: httpx.Response, model: type[_Model]) -> _Model:
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            _log.warning("unexpected gateway answer to %s: %s", response.request.url.path, exc)
            raise GatewayError(
                f"The gateway answered {response.request.method} {response.request.url.path} with "
                f"something the UI does not understand (HTTP {response.status_code}); "
                "are the UI and gateway the same salescast version?",
                status_code=response.status_code,
            ) from None

    def _error_for(self, response: httpx.Response) -> GatewayError:
        status = response.status_code
        detail = error_detail(response)
        if status == 401:
            message = (
                "The gateway needs an API key for this: set SALESCAST_API_KEY in the UI's environment "
                "to the gateway's key."
            )
        elif status == 403:
            message = "The gateway rejected the UI's API key: SALESCAST_API_KEY differs from the gateway's."
        elif status == 429:
            retry = response.headers.get("Retry-After")
            message = f"{detail} (try again in {retry} s)" if retry else detail
        elif status == 503:
            message = f"Service unavailable: {detail}"
        elif status >= 500:
            message = f"The gateway failed (HTTP {status}): {detail}"
        else:
            message = detail
        _log.info(
            "gateway %s %s -> %d: %s", response.request.method, response.request.url.path, status, detail
        )
        return GatewayError(message, status_code=status)


def error_detail(response: httpx.Response) -> str:
    """The gateway's `{"detail": …}` as one readable line (FastAPI validation lists included)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:300] if text else f"HTTP {response.status_code} {response.reason_phrase}"
    detail = body.get("detail") if isinstance(body, dict) else body
    return format_detail(detail) or f"HTTP {response.status_code} {response.reason_phrase}"


def format_detail(detail: object) -> str:
    """`"msg"` → `msg`; `[{"loc": ["body", "sales", 0], "msg": "…"}]` → `sales[0]: …`."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_format_validation_item(item) for item in detail)
    if isinstance(detail, dict):
        return _format_validation_item(detail)
    return str(detail)


def _format_validation_item(item: object) -> str:
    if not isinstance(item, dict):
        return str(item)
    message = str(item.get("msg", item))
    location = [part for part in item.get("loc", []) if part not in ("body", "query", "path")]
    if not location:
        return message
    name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    return f"{name}: {message}"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _with_options(
    body: dict[str, Any], experiment_name: str | None, deploy: DeployPolicy | None
) -> dict[str, Any]:
    if experiment_name and experiment_name.strip():
        body["experiment_name"] = experiment_name.strip()
    if deploy:
        body["deploy"] = deploy
    return body


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text
