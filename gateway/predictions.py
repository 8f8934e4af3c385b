"""Predictions through TorchServe: the window-size check against the served model, single and batched.

The batch path validates every item first (a bad item gets its own error and is never sent), then
groups the good ones per model and sends each group as KServe `instances` in chunks of at most
`gateway.max_instances_per_call`, so 1000 items cost a handful of TorchServe calls.

Answers are plain dicts shaped like `gateway.schemas.PredictResponse` and `BatchResult` (the routes
declare those models for the docs and send the dicts with orjson): for a batch of 1000 items,
building and re-validating a pydantic model per item and per step cost more than the call to
TorchServe. Per-batch work is done once per category, not once per item (name resolution, the
horizon check, the metrics).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict

from gateway.errors import GatewayError, InputError, ModelServerUnavailableError
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry, ServedModel
from gateway.schemas import FLOAT32_MAX, BatchItem, check_sales_values
from gateway.torchserve_client import ForecastStepAnswer, InferenceClient, ModelNotServedError


class PredictAnswer(TypedDict):
    """`gateway.schemas.PredictResponse` as a dict."""

    category: str
    prediction: float
    model_version: str
    window_size: int
    horizon: int
    forecast: list[ForecastStepAnswer]


class BatchResultAnswer(TypedDict):
    """`gateway.schemas.BatchResult` as a dict."""

    index: int
    category: str
    status: int
    prediction: float | None
    model_version: str | None
    window_size: int | None
    forecast: list[ForecastStepAnswer] | None
    error: str | None


@dataclass
class Predictor:
    registry: ModelRegistry
    inference: InferenceClient
    metrics: GatewayMetrics
    max_instances_per_call: int
    max_horizon: int

    async def predict(
        self, category: str, sales: Sequence[float], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> PredictAnswer:
        """One forecast from the category's default version; 404/422/503 as GatewayError."""
        model = await self.registry.resolve(category)
        check_window(model, len(sales))
        check_horizon(model, horizon, self.max_horizon)
        try:
            answer = await self.inference.predict(model.model_name, sales, horizon, levels)
        except ModelNotServedError:
            self.registry.invalidate()
            self.metrics.predictions.labels(category=model.category, outcome="error").inc()
            raise
        except GatewayError:
            self.metrics.predictions.labels(category=model.category, outcome="error").inc()
            raise
        self.registry.note_answer(model.model_name, answer.model_version)
        self.metrics.predictions.labels(category=model.category, outcome="ok").inc()
        return {
            "category": model.category,
            "prediction": answer.prediction,
            "model_version": answer.model_version,
            "window_size": answer.window_size,
            "horizon": answer.horizon,
            "forecast": answer.forecast,
        }

    async def predict_batch(
        self, items: Sequence[BatchItem], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> list[BatchResultAnswer]:
        """Per-item results in request order; only a model-server outage fails the whole batch (503).

        An item's error is the first of: its category, its values, the window size, the horizon."""
        results: list[BatchResultAnswer | None] = [None] * len(items)
        groups: dict[str, list[tuple[int, list[float]]]] = defaultdict(list)
        models: dict[str, ServedModel] = {}
        resolved: dict[str, ServedModel | GatewayError] = {}
        horizon_errors: dict[str, GatewayError | None] = {}
        for index, item in enumerate(items):
            model = resolved.get(item.category)
            if model is None:
                model = resolved[item.category] = await self._resolve(item.category)
            if isinstance(model, GatewayError):
                results[index] = _failed(index, item.category, model.status_code, str(model))
                continue
            try:
                sales = sales_values(item.sales)
                check_window(model, len(sales))
            except (GatewayError, ValueError) as exc:
                status = exc.status_code if isinstance(exc, GatewayError) else 422
                results[index] = _failed(index, item.category, status, str(exc))
                continue
            if model.model_name not in horizon_errors:
                horizon_errors[model.model_name] = _horizon_error(model, horizon, self.max_horizon)
            too_far = horizon_errors[model.model_name]
            if too_far is not None:
                results[index] = _failed(index, item.category, too_far.status_code, str(too_far))
                continue
            models[model.model_name] = model
            groups[model.model_name].append((index, sales))

        calls = [
            self._predict_chunk(
                models[name], members[start : start + self.max_instances_per_call], results, horizon, levels
            )
            for name, members in groups.items()
            for start in range(0, len(members), self.max_instances_per_call)
        ]
        await asyncio.gather(*calls)
        final = [result for result in results if result is not None]
        outcomes = Counter((result["category"], result["status"] == 200) for result in final)
        for (category, ok), count in outcomes.items():
            self.metrics.predictions.labels(category=category, outcome="ok" if ok else "error").inc(count)
        return final

    async def _resolve(self, category: str) -> ServedModel | GatewayError:
        """The served model, or the item error naming why not (an outage fails the whole batch)."""
        try:
            return await self.registry.resolve(category)
        except ModelServerUnavailableError:
            raise
        except GatewayError as exc:
            return exc

    async def _predict_chunk(
        self,
        model: ServedModel,
        members: list[tuple[int, list[float]]],
        results: list[BatchResultAnswer | None],
        horizon: int,
        levels: Sequence[float] | None,
    ) -> None:
        try:
            answer = await self.inference.predict_instances(
                model.model_name, [sales for _, sales in members], horizon, levels
            )
        except ModelServerUnavailableError:
            self.registry.invalidate()
            raise
        except GatewayError as exc:
            for index, _ in members:
                results[index] = _failed(index, model.category, exc.status_code, exc.message)
            return
        self.registry.note_answer(model.model_name, answer.model_version)
        category, version, window = model.category, answer.model_version, answer.window_size
        for (index, _), prediction, steps in zip(members, answer.predictions, answer.forecasts, strict=True):
            results[index] = {
                "index": index,
                "category": category,
                "status": 200,
                "prediction": prediction,
                "model_version": version,
                "window_size": window,
                "forecast": steps,
                "error": None,
            }


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
