"""An answer from another category's model is an error, never passed on as this category's forecast.

TorchServe routes `/predictions/<model>` by name; a misrouted answer (a fault upstream, which no real
TorchServe here can be made to produce) would otherwise reach the client as valid numbers. The
stand-ins below are the smallest that let the predictor run: a registry that knows one category, a
loaded set that holds everything, and an inference client whose answer names the wrong category.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest

from gateway.errors import ModelServerError
from gateway.loaded_models import LoadedModels
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry, ServedModel
from gateway.predictions import Predictor
from gateway.torchserve_client import ForecastStepAnswer, InferenceClient, Prediction

MODEL = ServedModel(
    category="Clothing", model_name="clothing", version="2", window_size=3, test_metrics=None, ready_workers=1
)


class _Registry:
    async def resolve(self, category: str) -> ServedModel:
        return MODEL

    def note_answer(self, model_name: str, version: str) -> None:
        pass


class _Loaded:
    @asynccontextmanager
    async def use(self, model: str, version: str) -> AsyncIterator[None]:
        yield


class _Inference:
    def __init__(self, category: str | None) -> None:
        self.category = category

    async def predict(
        self, model_name: str, sales: Any, horizon: int = 1, levels: Any = None, last_date: Any = None
    ) -> Prediction:
        step: ForecastStepAnswer = {"step": 1, "date": None, "prediction": 5.0, "intervals": []}
        return Prediction(5.0, "1", 3, 1, [step], category=self.category)


def _predictor(answering: str | None) -> tuple[Predictor, GatewayMetrics]:
    metrics = GatewayMetrics()
    predictor = Predictor(
        cast(ModelRegistry, _Registry()),
        cast(LoadedModels, _Loaded()),
        cast(InferenceClient, _Inference(answering)),
        metrics,
        256,
        28,
    )
    return predictor, metrics


def test_an_answer_for_another_category_is_a_502_not_a_forecast() -> None:
    predictor, metrics = _predictor("Books")
    with pytest.raises(ModelServerError, match=r"answered with 'Books'.s model when asked for 'Clothing'"):
        asyncio.run(predictor.predict("Clothing", [1.0, 2.0, 3.0]))
    errors = metrics.registry.get_sample_value(
        "salescast_gateway_predictions_total", {"category": "Clothing", "outcome": "error"}
    )
    assert errors == 1.0


@pytest.mark.parametrize("answering", ["Clothing", None])  # None: a handler from before the field
def test_an_answer_for_the_asked_category_passes(answering: str | None) -> None:
    predictor, _ = _predictor(answering)
    answer = asyncio.run(predictor.predict("Clothing", [1.0, 2.0, 3.0]))
    assert answer["prediction"] == 5.0 and answer["category"] == "Clothing"
