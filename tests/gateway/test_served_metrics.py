"""The served version per category on /metrics, read from the gateway's cached view of TorchServe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from gateway.metrics import GatewayMetrics
from gateway.model_registry import ServedModel
from gateway.served_metrics import ServedVersionsCollector
from tests.gateway.test_training_metrics import named, samples


@dataclass
class CachedModels:
    """What the collector reads of `ModelRegistry`: its last known models by TorchServe model name."""

    models: dict[str, ServedModel] = field(default_factory=dict)


def served(category: str, model_name: str, version: str) -> ServedModel:
    return ServedModel(
        category=category,
        model_name=model_name,
        version=version,
        window_size=14,
        test_metrics=None,
        ready_workers=1,
    )


def test_each_categorys_default_version_is_exported_while_watched() -> None:
    collector = ServedVersionsCollector()
    metrics = GatewayMetrics(collector)
    assert named(samples(metrics.render().decode()), "salescast_served_version_info") == {}

    cache = CachedModels()
    collector.watch(cache)
    cache.models["beauty"] = served("Beauty", "beauty", "20261126.101500")
    cache.models["cafe-creme"] = served("Café Crème", "cafe-creme", "20261120.080000")
    assert named(samples(metrics.render().decode()), "salescast_served_version_info") == {
        (("category", "Beauty"), ("version", "20261126.101500")): 1.0,
        (("category", "Café Crème"), ("version", "20261120.080000")): 1.0,
    }
    cache.models["beauty"] = served("Beauty", "beauty", "20261127.090000")  # a hot swap
    assert named(samples(metrics.render().decode()), "salescast_served_version_info") == {
        (("category", "Beauty"), ("version", "20261127.090000")): 1.0,
        (("category", "Café Crème"), ("version", "20261120.080000")): 1.0,
    }
    collector.watch(None)
    assert named(samples(metrics.render().decode()), "salescast_served_version_info") == {}


def test_a_gateway_without_torchserve_declares_the_family_with_no_series(
    make_client: Callable[..., TestClient],
) -> None:
    text = make_client().get("/metrics").text
    assert "# TYPE salescast_served_version_info gauge" in text
    assert named(samples(text), "salescast_served_version_info") == {}
