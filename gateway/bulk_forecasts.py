"""Forecasts of many categories at once (`POST /api/forecast_batch`), run beside TorchServe, not through it.

Through TorchServe, a forecast of every category would load a worker for each (the serving budget
holds only `torchserve.max_loaded_models`) and evict the hot ones. Instead the served archives run in
one batch process, `python -m serving.bulk_forecast` (the gateway never imports torch), while the
event loop keeps answering predictions; one such process runs at a time, below serving's CPU
priority (`gateway.job_nice`, as training jobs). It computes through the handler's own steps, so
each number equals `GET /api/forecast/{category}`.

Answers are cached per category by what they depend on: the served version, the window of the
active dataset it reads (by content), the horizon and the levels. Asking again with nothing changed
answers from memory; a new dataset or a new version recomputes only the categories it changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from core.contracts.bulk_forecast import (
    BulkForecastJob,
    BulkItem,
    BulkOutcome,
    decode_answer,
    encode_job,
)
from core.contracts.files import ContractError
from core.settings import Settings
from gateway.errors import GatewayError, ModelServerUnavailableError
from gateway.history import HistoryCache
from gateway.model_registry import ModelRegistry, ServedModel
from gateway.schemas.common import CalendarUse
from serving.archive import archive_file_name

log = logging.getLogger(__name__)
BULK_MODULE = "serving.bulk_forecast"
_STDERR_TAIL_CHARS = 600

CacheKey = tuple[str, str, str, str, int, tuple[float, ...] | None]
"""(model name, version, last history day, SHA-256 of the window sent, horizon, levels)."""


class BulkForecastError(GatewayError):
    """The batch process failed, timed out, or answered something unreadable (the server's side)."""

    status_code = 503


@dataclass(frozen=True)
class Target:
    """One category to forecast: its served model, the days sent and when they end."""

    category: str
    model: ServedModel
    sales: list[float]
    history_end: pd.Timestamp
    key: CacheKey


class BulkForecaster:
    """`forecast(categories, horizon, levels)` answers a `BulkForecastResponse` as a dict."""

    def __init__(self, settings: Settings, registry: ModelRegistry, history: HistoryCache) -> None:
        self.settings = settings
        self.registry = registry
        self.history = history
        self._cache: OrderedDict[CacheKey, BulkOutcome] = OrderedDict()
        self._lock = asyncio.Lock()

    async def forecast(
        self, categories: Sequence[str] | None, horizon: int, levels: Sequence[float] | None
    ) -> dict[str, Any]:
        """Every asked category (None: every category of the active dataset) in order, each with its
        forecast or its own error; only an unreadable data file, TorchServe not telling what it
        serves, or a failed batch process fails the whole call (503)."""
        series = await self.history.series()
        dataset_id = self.history.source().dataset_id
        names = list(dict.fromkeys(categories)) if categories is not None else await self.history.categories()
        level_key = tuple(levels) if levels is not None else None
        folded = {name.casefold(): name for name in series}
        results: list[dict[str, Any] | Target] = []
        for name in names:
            results.append(await self._target(name, series, folded, horizon, level_key))
        targets = [item for item in results if isinstance(item, Target)]
        outcomes, computed = await self._outcomes(targets, horizon, levels)
        items = [item if isinstance(item, dict) else _answer(item, outcomes[item.key]) for item in results]
        succeeded = sum(item["status"] == 200 for item in items)
        return {
            "dataset_id": dataset_id,
            "horizon": horizon,
            "results": items,
            "succeeded": succeeded,
            "failed": len(items) - succeeded,
            "computed": computed,
        }

    async def _target(
        self,
        name: str,
        series: dict[str, pd.Series],
        folded: dict[str, str],
        horizon: int,
        levels: tuple[float, ...] | None,
    ) -> dict[str, Any] | Target:
        """What to send for `name`, or its failed result (not served, not in the data, no days)."""
        try:
            model = await self.registry.resolve(name)
        except ModelServerUnavailableError:
            raise
        except GatewayError as exc:
            return _failed(
                name, exc.status_code, f"no model serves {name!r}" if exc.status_code == 404 else str(exc)
            )
        # As GET /api/forecast/{category}: the served category's own name, exact or in any case.
        data_name = model.category if model.category in series else folded.get(model.category.casefold())
        if data_name is None:
            return _failed(model.category, 404, f"{model.category} has no history in the active dataset")
        days = series[data_name]
        if days.empty:
            return _failed(model.category, 422, f"{model.category} has 0 days of history")
        # The version's window when known (the batch process checks it against the archive); else all days.
        last = days.iloc[-model.window_size :] if model.window_size else days
        values = np.ascontiguousarray(last.to_numpy(dtype=np.float64))
        end = last.index[-1]
        digest = hashlib.sha256(values.tobytes()).hexdigest()
        key: CacheKey = (model.model_name, model.version, end.strftime("%Y-%m-%d"), digest, horizon, levels)
        return Target(model.category, model, values.tolist(), end, key)

    async def _outcomes(
        self, targets: Sequence[Target], horizon: int, levels: Sequence[float] | None
    ) -> tuple[dict[CacheKey, BulkOutcome], int]:
        """Every target's outcome by key, those the cache lacks computed by one batch process (one at
        a time: a call that waited finds what the previous one computed), and how many were computed."""
        found = {target.key: self._cache[target.key] for target in targets if target.key in self._cache}
        missing = [target for target in targets if target.key not in found]
        if missing:
            async with self._lock:
                found |= {
                    target.key: self._cache[target.key] for target in missing if target.key in self._cache
                }
                missing = list({target.key: target for target in missing if target.key not in found}.values())
                if missing:
                    computed = await self._run(missing, horizon, levels)
                    found |= {target.key: outcome for target, outcome in zip(missing, computed, strict=True)}
        for key, outcome in found.items():
            if outcome.status < 500:  # an unreadable archive may be readable on the next call
                self._cache[key] = outcome
                self._cache.move_to_end(key)
        while len(self._cache) > self.settings.gateway.bulk_cache_entries:
            self._cache.popitem(last=False)
        return found, len(missing)

    async def _run(
        self, targets: Sequence[Target], horizon: int, levels: Sequence[float] | None
    ) -> list[BulkOutcome]:
        """`python -m serving.bulk_forecast` on `targets`: job on stdin, answer on stdout."""
        store = self.settings.paths.model_store
        job = BulkForecastJob(
            horizon=horizon,
            levels=list(levels) if levels is not None else None,
            items=[
                BulkItem(
                    category=target.category,
                    archive=str(store / archive_file_name(target.model.model_name, target.model.version)),
                    sales=target.sales,
                    last_date=_last_date(target),
                )
                for target in targets
            ],
        )
        timeout = self.settings.gateway.bulk_timeout_s
        started = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            BULK_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        _lower_priority(process.pid, self.settings.gateway.job_nice)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(encode_job(job)), timeout)
        except TimeoutError:
            raise BulkForecastError(
                f"the bulk forecast of {len(targets)} categories took longer than {timeout:g} s "
                "(gateway.bulk_timeout_s) and was stopped"
            ) from None
        finally:
            if process.returncode is None:  # timed out, or the request was cancelled
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await asyncio.shield(process.wait())
        if process.returncode != 0:
            tail = stderr.decode("utf-8", "replace").strip()[-_STDERR_TAIL_CHARS:]
            raise BulkForecastError(f"the bulk forecast process failed (exit {process.returncode}): {tail}")
        try:
            answer = decode_answer(stdout)
        except ContractError as exc:
            raise BulkForecastError(
                f"the bulk forecast process answered something unreadable: {exc}"
            ) from None
        if len(answer.outcomes) != len(targets):
            raise BulkForecastError(
                f"the bulk forecast process answered {len(answer.outcomes)} of {len(targets)} categories"
            )
        log.info(
            "bulk forecast computed categories=%d horizon=%d seconds=%.2f forecasting_s=%.2f",
            len(targets),
            horizon,
            time.perf_counter() - started,
            answer.seconds,
        )
        return answer.outcomes


def _lower_priority(pid: int, nice: int) -> None:
    """Run the batch process `gateway.job_nice` below the gateway, as training jobs: forecasting
    hundreds of categories on the serving cores must not slow predictions. Set before the child
    imports torch, so the threads it starts inherit it."""
    if not nice:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    except OSError as exc:  # it already exited: its exit status says why
        log.warning("cannot lower the priority of the bulk forecast process pid=%d: %s", pid, exc)


def _last_date(target: Target) -> str | None:
    """The history's last day for a version with calendar terms or weekday input (as `GET
    /api/forecast` sends it)."""
    return target.history_end.strftime("%Y-%m-%d") if target.model.uses_last_date else None


def _failed(category: str, status: int, error: str) -> dict[str, Any]:
    return {
        "category": category,
        "status": status,
        "error": error,
        "model_version": None,
        "window_size": None,
        "history_end": None,
        "date": None,
        "prediction": None,
        "forecast": None,
        "total": None,
        "calendar": None,
    }


def _answer(target: Target, outcome: BulkOutcome) -> dict[str, Any]:
    """A `BulkForecastItem` dict: the outcome with its days dated from the history's last day."""
    if outcome.status != 200 or not outcome.forecast:
        return _failed(target.category, outcome.status, outcome.error or "no forecast")
    end = target.history_end
    steps = [
        {**step.model_dump(), "date": (end + timedelta(days=step.step)).strftime("%Y-%m-%d")}
        for step in outcome.forecast
    ]
    return {
        "category": target.category,
        "status": 200,
        "error": None,
        "model_version": outcome.model_version,
        "window_size": outcome.window_size,
        "history_end": end.strftime("%Y-%m-%d"),
        "date": steps[0]["date"],
        "prediction": steps[0]["prediction"],
        "forecast": steps,
        "total": outcome.total.model_dump() if outcome.total is not None else None,
        "calendar": CalendarUse.model_validate(outcome.calendar).model_dump() if outcome.calendar else None,
    }
