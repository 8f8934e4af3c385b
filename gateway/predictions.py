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

    async def predict(self, category: str, sales: Sequence[float]) -> PredictResponse:
        """One forecast from the category's default version; 404/422/503 as GatewayError."""
        model = await self.registry.resolve(category)
        check_window(model, len(sales))
        try:
            answer = await self.inference.predict(model.model_name, sales)
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
        )

    async def predict_batch(self, items: Sequence[BatchItem]) -> list[BatchResult]:
        """Per-item results in request order; only a model-server outage fails the whole batch (503)."""
        results: list[BatchResult | None] = [None] * len(items)
        groups: dict[str, list[tuple[int, list[float]]]] = defaultdict(list)
        models: dict[str, ServedModel] = {}
        for index, item in enumerate(items):
            try:
                model = await self.registry.resolve(item.category)
                sales = check_sales_values(item.sales)
                check_window(model, len(sales))
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
            self._predict_chunk(models[name], members[start : start + self.max_instances_per_call], results)
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
    ) -> None:
        try:
            answer = await self.inference.predict_instances(model.model_name, [sales for _, sales in members])
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
        for (index, _), prediction in zip(members, answer.predictions, strict=True):
            results[index] = BatchResult(
                index=index,
                category=model.category,
                status=200,
                prediction=prediction,
                model_version=answer.model_version,
                window_size=answer.window_size,
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
