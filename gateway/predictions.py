"""Predictions through TorchServe: the window-size check against the served model, single and batched.

The batch path validates every item first (a bad item gets its own error and is never sent), then
groups the good ones per model and sends each group as KServe `instances` in chunks of at most
`gateway.max_instances_per_call`, so 1000 items cost a handful of TorchServe calls.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from gateway.errors import GatewayError, InputError, ModelServerUnavailableError
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry, ServedModel
from gateway.schemas import BatchItem, BatchResult, PredictResponse, check_sales_values
from gateway.torchserve_client import InferenceClient, ModelNotServedError


@dataclass
class Predictor:
    registry: ModelRegistry
    inference: InferenceClient
    metrics: GatewayMetrics
    max_instances_per_call: int
    max_horizon: int

    async def predict(
        self, category: str, sales: Sequence[float], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> PredictResponse:
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
        return PredictResponse(
            category=model.category,
            prediction=answer.prediction,
            model_version=answer.model_version,
            window_size=answer.window_size,
            horizon=answer.horizon,
            forecast=answer.forecast,
        )

    async def predict_batch(
        self, items: Sequence[BatchItem], horizon: int = 1, levels: Sequence[float] | None = None
    ) -> list[BatchResult]:
        """Per-item results in request order; only a model-server outage fails the whole batch (503)."""
        results: list[BatchResult | None] = [None] * len(items)
        groups: dict[str, list[tuple[int, list[float]]]] = defaultdict(list)
        models: dict[str, ServedModel] = {}
        for index, item in enumerate(items):
            try:
                model = await self.registry.resolve(item.category)
                sales = check_sales_values(item.sales)
                check_window(model, len(sales))
                check_horizon(model, horizon, self.max_horizon)
            except ModelServerUnavailableError:
                raise
            except (GatewayError, ValueError, ValidationError) as exc:
                status = exc.status_code if isinstance(exc, GatewayError) else 422
                results[index] = BatchResult(
                    index=index, category=item.category, status=status, error=str(exc)
                )
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
        for result in final:
            outcome = "ok" if result.status == 200 else "error"
            self.metrics.predictions.labels(category=result.category, outcome=outcome).inc()
        return final

    async def _predict_chunk(
        self,
        model: ServedModel,
        members: list[tuple[int, list[float]]],
        results: list[BatchResult | None],
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
                results[index] = BatchResult(
                    index=index, category=model.category, status=exc.status_code, error=exc.message
                )
            return
        self.registry.note_answer(model.model_name, answer.model_version)
        for (index, _), prediction, steps in zip(members, answer.predictions, answer.forecasts, strict=True):
            results[index] = BatchResult(
                index=index,
                category=model.category,
                status=200,
                prediction=prediction,
                model_version=answer.model_version,
                window_size=answer.window_size,
                forecast=steps,
            )


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
            f"expected {model.window_size} values, got {count} "
            f"({model.category} model {model.version} reads the last {model.window_size} days)"
        )
    if count == 0:
        raise InputError("sales must hold at least one value")
