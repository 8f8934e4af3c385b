"""Predictions through TorchServe: the window-size check against the served model, single and batched.

The batch path validates every item first (a bad item gets its own error and is never sent), then
groups the good ones per model and sends each group as KServe `instances` in chunks of at most
`gateway.max_instances_per_call`, so 1000 items cost a handful of TorchServe calls.

Answers are plain dicts shaped like `gateway.schemas.predict.PredictResponse` and `BatchResult` (the routes
declare those models for the docs and send the dicts with orjson): for a batch of 1000 items,
building and re-validating a pydantic model per item and per step cost more than the call to
TorchServe. Per-batch work is done once per category, not once per item (name resolution, the
horizon check, the metrics).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from typing import Any, TypeVar

from typing_extensions import NotRequired, TypedDict

from gateway.errors import GatewayError, InputError, ModelServerError, ModelServerUnavailableError
from gateway.loaded_models import LoadedModels
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry, ServedModel
from gateway.schemas.predict import FLOAT32_MAX, BatchItem, check_sales_values
from gateway.torchserve_client import (
    CalendarAnswer,
    ForecastStepAnswer,
    InferenceClient,
    ModelNotServedError,
    NoWorkerError,
    Prediction,
    Predictions,
    TotalAnswer,
)

log = logging.getLogger(__name__)


class PredictAnswer(TypedDict):
    """`gateway.schemas.predict.PredictResponse` as a dict."""

    category: str
    prediction: float
    model_version: str
    window_size: int
    horizon: int
    forecast: list[ForecastStepAnswer]
    total: NotRequired[TotalAnswer]
    calendar: NotRequired[CalendarAnswer]


class BatchResultAnswer(TypedDict):
    """`gateway.schemas.predict.BatchResult` as a dict."""

    index: int
    category: str
    status: int
    prediction: float | None
    model_version: str | None
    window_size: int | None
    forecast: list[ForecastStepAnswer] | None
    error: str | None
    total: NotRequired[TotalAnswer]
    calendar: NotRequired[CalendarAnswer]


class BatchAnswer(TypedDict):
    """`gateway.schemas.predict.BatchResponse` as a dict."""

    results: list[BatchResultAnswer]
    succeeded: int
    failed: int


T = TypeVar("T")
_Answer = TypeVar("_Answer", Prediction, Predictions)


@dataclass
class Predictor:
    """Answers predictions through the loaded set: a category without a worker is loaded first."""

    registry: ModelRegistry
    loaded: LoadedModels
    inference: InferenceClient
    metrics: GatewayMetrics
    max_instances_per_call: int
    max_horizon: int

    async def predict(
        self,
        category: str,
        sales: Sequence[float],
        horizon: int = 1,
        levels: Sequence[float] | None = None,
        last_date: date | None = None,
    ) -> PredictAnswer:
        """One forecast from the category's default version (`last_date`: the date of the last value,
        for its calendar terms); 404/422/503 as GatewayError."""
        model = await self.registry.resolve(category)
        check_window(model, len(sales))
        check_horizon(model, horizon, self.max_horizon)
        try:
            answer = await self._own_answer(
                model, lambda: self.inference.predict(model.model_name, sales, horizon, levels, last_date)
            )
        except ModelNotServedError:
            self.registry.invalidate(model.model_name)
            self.metrics.predicted(model.category, "error")
            raise
        except GatewayError:
            self.metrics.predicted(model.category, "error")
            raise
        self.registry.note_answer(model.model_name, answer.model_version)
        self.metrics.predicted(model.category, "ok")
        result: PredictAnswer = {
            "category": model.category,
            "prediction": answer.prediction,
            "model_version": answer.model_version,
            "window_size": answer.window_size,
            "horizon": answer.horizon,
            "forecast": answer.forecast,
        }
        if answer.total is not None:
            result["total"] = answer.total
        if answer.calendar is not None:
            result["calendar"] = answer.calendar
        return result

    async def predict_batch(
        self, items: Sequence[BatchItem], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> BatchAnswer:
        """Per-item results in request order; only a model-server outage fails the whole batch (503).

        An item's error is the first of: its category, its values, the window size, the horizon. Items
        are sent per model and `last_date` (one handler request ends all its windows on one date)."""
        results: list[BatchResultAnswer | None] = [None] * len(items)
        groups: dict[tuple[str, date | None], list[tuple[int, list[float]]]] = defaultdict(list)
        categories = [item.category for item in items]
        targets = {category: await self._target(category, horizon) for category in dict.fromkeys(categories)}
        plain = batch_sales_values([item.sales for item in items])
        outcomes: Counter[tuple[str, str]] = Counter()
        for index, (item, category) in enumerate(zip(items, categories, strict=True)):
            model, refused = targets[category]
            sales = plain[index] if plain is not None else None
            if model is None or refused is not None or sales is None or len(sales) != model.window_size:
                sales, failure = _check_item(model, refused, item.sales)
                if failure is not None:
                    status = failure.status_code if isinstance(failure, GatewayError) else 422
                    results[index] = _failed(index, category, status, str(failure))
                    outcomes[(category, "error")] += 1
                    continue
            assert model is not None and sales is not None
            groups[(model.model_name, item.last_date)].append((index, sales))

        models = {model.model_name: model for model, _ in targets.values() if model is not None}
        calls = [
            self._predict_chunk(
                models[name],
                members[start : start + self.max_instances_per_call],
                results,
                (horizon, levels, last_date),
            )
            for (name, last_date), members in groups.items()
            for start in range(0, len(members), self.max_instances_per_call)
        ]
        for answered_chunk in await asyncio.gather(*calls):
            outcomes.update(answered_chunk)
        for (category, outcome), count in outcomes.items():
            self.metrics.predicted(category, outcome, count)
        succeeded = sum(count for (_, outcome), count in outcomes.items() if outcome == "ok")
        answered = [result for result in results if result is not None]
        return {"results": answered, "succeeded": succeeded, "failed": len(answered) - succeeded}

    async def _own_answer(self, model: ServedModel, call: Callable[[], Awaitable[_Answer]]) -> _Answer:
        """`call`'s answer from `model`'s own category. Another category's numbers are never passed on:
        TorchServe once answered one request from another model's worker while categories evicted each
        other, so a wrong answer is logged and asked once more; a second one is a 502."""
        for _ in range(2):
            answer = await self._loaded_call(model, call)
            if answer.category is None or answer.category == model.category:
                return answer
            log.error(
                "model server answered for %r (version %s) when asked for %r (model %s)",
                answer.category,
                answer.model_version,
                model.category,
                model.model_name,
            )
        raise ModelServerError(
            f"model server answered with {answer.category!r}'s model when asked for {model.category!r}"
        )

    async def _loaded_call(self, model: ServedModel, call: Callable[[], Awaitable[T]]) -> T:
        """Run one inference call holding the version loaded. When the served version has no worker,
        it is read again and loaded once: a deploy from a training job may have made another version
        the default (the held one keeps its worker), or TorchServe lost the worker (a restart)."""
        async with self.loaded.use(model.model_name, model.version):
            try:
                return await call()
            except NoWorkerError:
                pass
        self.registry.invalidate(model.model_name)
        served = (await self.registry.refresh()).get(model.model_name, model)
        if served.version == model.version:
            self.loaded.forget(model.model_name, model.version)
        async with self.loaded.use(served.model_name, served.version):
            return await call()

    async def _target(self, category: str, horizon: int) -> tuple[ServedModel | None, GatewayError | None]:
        """(the served model, the horizon's error) or (None, why nothing serves the category); only an
        outage of the model server fails the whole batch."""
        try:
            model = await self.registry.resolve(category)
        except ModelServerUnavailableError:
            raise
        except GatewayError as exc:
            return None, exc
        return model, _horizon_error(model, horizon, self.max_horizon)

    async def _predict_chunk(
        self,
        model: ServedModel,
        members: list[tuple[int, list[float]]],
        results: list[BatchResultAnswer | None],
        options: tuple[int, Sequence[float] | None, date | None],
    ) -> dict[tuple[str, str], int]:
        """Fill in the members' results; the count of answers by (category, outcome). `options`:
        (horizon, levels, last_date) of the call."""
        horizon, levels, last_date = options
        try:
            rows = [sales for _, sales in members]
            answer = await self._own_answer(
                model,
                lambda: self.inference.predict_instances(model.model_name, rows, horizon, levels, last_date),
            )
        except ModelServerUnavailableError:
            self.registry.invalidate(model.model_name)
            raise
        except GatewayError as exc:
            for index, _ in members:
                results[index] = _failed(index, model.category, exc.status_code, exc.message)
            return {(model.category, "error"): len(members)}
        self.registry.note_answer(model.model_name, answer.model_version)
        category, version, window = model.category, answer.model_version, answer.window_size
        for row, ((index, _), prediction, steps) in enumerate(
            zip(members, answer.predictions, answer.forecasts, strict=True)
        ):
            result: BatchResultAnswer = {
                "index": index,
                "category": category,
                "status": 200,
                "prediction": prediction,
                "model_version": version,
                "window_size": window,
                "forecast": steps,
                "error": None,
            }
            if answer.totals is not None:
                result["total"] = answer.totals[row]
            if answer.calendar is not None:
                result["calendar"] = answer.calendar
            results[index] = result
        return {(category, "ok"): len(members)}


def _check_item(
    model: ServedModel | None, refused: GatewayError | None, values: list[Any]
) -> tuple[list[float] | None, GatewayError | ValueError | None]:
    """One batch item's values, or its first error: the category, the values, the window size, the
    horizon (`refused` holds the category's or the horizon's error)."""
    if model is None:
        return None, refused
    try:
        sales = sales_values(values)
        check_window(model, len(sales))
    except (GatewayError, ValueError) as exc:
        return None, exc
    return (sales, None) if refused is None else (None, refused)


def _failed(index: int, category: str, status: int, error: str) -> BatchResultAnswer:
    return {
        "index": index,
        "category": category,
        "status": status,
        "prediction": None,
        "model_version": None,
        "window_size": None,
        "forecast": None,
        "error": error,
    }


_NUMBER_TYPES = frozenset((int, float))


def sales_values(values: list[Any]) -> list[float]:
    """`check_sales_values` with a fast path for the common case (plain finite numbers within the
    float32 range: a few C-level passes instead of a Python loop per value); anything else goes
    through the full check, which names the first bad value."""
    if values and _NUMBER_TYPES.issuperset(map(type, values)):
        try:
            numbers = list(map(float, values))
        except OverflowError:  # an integer beyond float64
            return check_sales_values(values)
        # A NaN or infinity makes the sum non-finite; so does an overflow, which only values far
        # outside the float32 range can cause; both go to the full check.
        if math.isfinite(sum(numbers)) and min(numbers) >= -FLOAT32_MAX and max(numbers) <= FLOAT32_MAX:
            return numbers
    return check_sales_values(values)


def batch_sales_values(rows: list[list[Any]]) -> list[list[float]] | None:
    """Every item's values as floats when all of them, over the whole batch, are plain numbers within
    the float32 range: a few C-level passes over all values at once instead of a check per item
    (a batch of 1000 items holds 14 000 values). None: check each item (`sales_values`)."""
    flat = list(chain.from_iterable(rows))
    types = set(map(type, flat))
    if not flat or not types <= _NUMBER_TYPES:
        return None
    try:
        numbers = list(map(float, flat))
    except OverflowError:
        return None
    if not (-FLOAT32_MAX <= min(numbers) <= max(numbers) <= FLOAT32_MAX and math.isfinite(sum(numbers))):
        return None
    return rows if types == {float} else [list(map(float, row)) for row in rows]


def _horizon_error(model: ServedModel, horizon: int, limit: int) -> GatewayError | None:
    try:
        check_horizon(model, horizon, limit)
    except GatewayError as exc:
        return exc
    return None


def check_horizon(model: ServedModel, horizon: int, limit: int) -> None:
    """422 naming the range when `horizon` is beyond the service's or the served version's reach."""
    if not 1 <= horizon <= limit:
        raise InputError(f"horizon must be from 1 to {limit} days, got {horizon}")
    if horizon > model.max_horizon:
        raise InputError(
            f"horizon must be from 1 to {model.max_horizon} for {model.category}: its model {model.version} "
            f"was trained to forecast {model.max_horizon} day(s) ahead; retrain it for up to {limit}"
        )


def check_window(model: ServedModel, count: int) -> None:
    """422 "expected N values, got M" against the served version's window size."""
    if model.window_size is not None and count != model.window_size:
        raise InputError(
            f"expected {model.window_size} values, got {count}"
            f" ({model.category} model {model.version} reads the last {model.window_size} days)"
        )
    if count == 0:
        raise InputError("sales must hold at least one value")
