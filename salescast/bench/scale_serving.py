"""The serving half of the scale bench: `salescast serve torchserve` as a child process timed until
every category is ready, TorchServe's private memory, and predictions of a hot and of cold
categories through the real gateway.

"Ready" is the moment `serve torchserve` reports that its start-up is over (its `torchserve up`
log line: every archive registered, or loaded lazily once that exists), not TorchServe's state per
model: the bench keeps measuring the same thing when categories are no longer loaded at start.

"Cold" is a category that is not loaded when it is asked: its default version has no ready worker
in the gateway's `GET /api/models` taken just before the cold requests. When every category is
loaded (today: all are, after start), the cold requests are each category's first prediction
after registration, and the report says so (`cold_mode`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from core import supervisor
from core.errors import SalescastError
from core.settings import Settings
from salescast.bench.scale_measure import Latency

READY_MARK = "torchserve up "  # serving.torchserve_process.serve_forever logs it once start-up is over
HOT_WARMUP_REQUESTS = 20  # untimed predictions of the hot category before it is measured
HOT_REQUESTS = 200  # timed predictions of the hot category (p99 from 200 samples: the 2nd largest)
API_MODELS_REPEATS = 10  # timed GET /api/models after the predictions (mostly the gateway's cache)
_POLL_S = 0.2


class ScaleServingError(SalescastError):
    """TorchServe or the gateway did not come up for the scale bench; the message quotes the log."""


@dataclass
class Predictions:
    """Latency of predictions through the gateway, and which categories answered."""

    hot_category: str
    hot: Latency | None
    cold_mode: str  # "unloaded" or "first_request_after_registration"
    cold: Latency | None
    answered: int
    asked: int
    errors: dict[str, str] = field(default_factory=dict)
    hot_during_loads: Latency | None = None  # the hot category asked again and again while the cold ones load


def start_torchserve(
    config: Path, log_path: Path, env: Mapping[str, str], timeout_s: float
) -> tuple[supervisor.ManagedProcess, float]:
    """Start `salescast --config <config> serve torchserve`; return it and the seconds until ready."""
    command = [sys.executable, "-m", "salescast", "--config", str(config), "serve", "torchserve"]
    started = time.monotonic()
    process = supervisor.start_process("torchserve", command, log_path, env)
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        if READY_MARK in _log_since(process):
            return process, time.monotonic() - started
        if process.exited() is not None:
            break
        time.sleep(_POLL_S)
    code = process.exited()
    process.stop(timeout_s)
    state = f"exited with {code}" if code is not None else f"was not ready after {timeout_s:.0f} s"
    raise ScaleServingError(f"`serve torchserve` {state}: {process.tail()}")


def _log_since(process: supervisor.ManagedProcess) -> str:
    with process.log_path.open("rb") as log:
        log.seek(process.log_offset)
        return log.read().decode("utf-8", errors="replace")


def list_models(client: httpx.Client, gateway_url: str) -> tuple[list[dict[str, Any]], float]:
    """`GET /api/models` (its `models`) and how long it took."""
    started = time.perf_counter()
    response = client.get(f"{gateway_url}/api/models")
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise ScaleServingError(f"GET /api/models answered {response.status_code}: {response.text[:300]}")
    models: list[dict[str, Any]] = response.json()["models"]
    return models, elapsed


def time_api_models(client: httpx.Client, gateway_url: str, repeats: int = API_MODELS_REPEATS) -> Latency:
    """Latency of `repeats` calls of `GET /api/models`."""
    latency = Latency.of([list_models(client, gateway_url)[1] for _ in range(repeats)])
    assert latency is not None
    return latency


def unloaded(models: Sequence[Mapping[str, Any]]) -> set[str]:
    """Categories whose default version holds no worker right now (the gateway's `loaded`)."""
    return {model["category"] for model in models if not model.get("loaded")}


def measure_predictions(
    client: httpx.Client,
    gateway_url: str,
    models: Sequence[Mapping[str, Any]],
    sales: Mapping[str, np.ndarray],
    order: Sequence[str],
) -> Predictions:
    """Each served category's first prediction (the cold set, in `order`) while a second client keeps
    asking the hot category (its latency while loads run), then the hot category alone. The hot
    category is the first of `order` that is loaded (else the first of `order`)."""
    served = {model["category"] for model in models}
    categories = [name for name in order if name in served] + sorted(served.difference(order))
    window = {model["category"]: int(model["window_size"]) for model in models}
    not_loaded = unloaded(models)
    errors: dict[str, str] = {}
    hot_category = next(
        (name for name in categories if name not in not_loaded), categories[0] if categories else ""
    )
    hot_window = sales[hot_category][-window[hot_category] :] if hot_category else np.array([])
    if hot_category:
        _repeat(client, gateway_url, hot_category, hot_window, HOT_WARMUP_REQUESTS, errors)
    first: dict[str, float] = {}
    with _Background(gateway_url, hot_category, hot_window) as during_loads:
        for category in categories:
            if category == hot_category:
                continue
            seconds, error = _predict(client, gateway_url, category, sales[category][-window[category] :])
            if error is None:
                first[category] = seconds
            else:
                errors[category] = error
    cold_mode = "unloaded" if not_loaded else "first_request_after_registration"
    cold = [s for c, s in first.items() if c in not_loaded] if not_loaded else list(first.values())
    hot = _repeat(client, gateway_url, hot_category, hot_window, HOT_REQUESTS, errors) if hot_category else []
    return Predictions(
        hot_category=hot_category,
        hot=Latency.of(hot),
        cold_mode=cold_mode,
        cold=Latency.of(cold),
        answered=len(first) + (1 if hot else 0),
        asked=len(categories),
        errors=errors,
        hot_during_loads=Latency.of(during_loads.latencies),
    )


def measure_during_training(
    client: httpx.Client,
    gateway_url: str,
    hot_category: str,
    hot_window: np.ndarray,
    categories: Sequence[str],
    timeout_s: float,
) -> tuple[Latency | None, float]:
    """The hot category asked again and again while a training job of `categories` runs through
    the gateway (deploy `never`: nothing changes what is served); its latency and the job's seconds."""
    answer = client.post(f"{gateway_url}/api/train", json={"categories": list(categories), "deploy": "never"})
    if answer.status_code != 202:
        raise ScaleServingError(f"POST /api/train answered {answer.status_code}: {answer.text[:300]}")
    job_url = f"{gateway_url}/api/jobs/{answer.json()['job_id']}"
    started = time.monotonic()
    with _Background(gateway_url, hot_category, hot_window) as during:
        while time.monotonic() - started < timeout_s:
            if client.get(job_url).json()["status"] in ("succeeded", "failed"):
                break
            time.sleep(_POLL_S)
    return Latency.of(during.latencies), time.monotonic() - started


def _repeat(
    client: httpx.Client,
    gateway_url: str,
    category: str,
    window: np.ndarray,
    count: int,
    errors: dict[str, str],
) -> list[float]:
    """`count` predictions of one category, one after another; stops at the first error."""
    seconds: list[float] = []
    for _ in range(count):
        elapsed, error = _predict(client, gateway_url, category, window)
        if error is not None:
            errors[category] = error
            break
        seconds.append(elapsed)
    return seconds


class _Background:
    """Predictions of one category from a thread of its own, one after another, until the block ends."""

    def __init__(self, gateway_url: str, category: str, window: np.ndarray) -> None:
        self.latencies: list[float] = []
        self._args = (gateway_url, category, window)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Background:
        if self._args[1]:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        """At least one prediction, however short the block: a few loads on an idle machine can end
        before the thread's first request, which would leave nothing to report."""
        with httpx.Client(timeout=30) as client:
            while True:
                elapsed, error = _predict(client, *self._args)
                if error is None:
                    self.latencies.append(elapsed)
                if self._stop.is_set():
                    return


def _predict(
    client: httpx.Client, gateway_url: str, category: str, window: np.ndarray
) -> tuple[float, str | None]:
    body = {"category": category, "sales": [round(float(value), 2) for value in window]}
    started = time.perf_counter()
    try:
        response = client.post(f"{gateway_url}/api/predict", json=body)
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        return elapsed, f"{response.status_code}: {response.text[:200]}"
    return elapsed, None


def torchserve_startup_timeout_s(settings: Settings, categories: int, per_category_s: float) -> float:
    """Start-up allowance of a TorchServe with `categories` models: the configured timeout, or more
    when registering them one after another needs it."""
    return max(settings.torchserve.startup_timeout_s, per_category_s * categories)
