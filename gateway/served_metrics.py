"""The served version per category on /metrics, from the gateway's cached view of TorchServe.

A scrape makes no TorchServe call: it reads the registry's last known models (refreshed by requests
and after every deploy, at most `gateway.models_refresh_s` old while predictions flow). Replicas hold
their own caches of the same TorchServe: aggregate with `max by (category, version)`, never `sum`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from gateway.model_registry import ServedModel


class ServedModels(Protocol):
    @property
    def models(self) -> Mapping[str, ServedModel]: ...


class ServedVersionsCollector:
    """`salescast_served_version_info{category, version} 1` for each category's default version;
    no series before the gateway started or while it knows no model."""

    def __init__(self) -> None:
        self._registry: ServedModels | None = None

    def watch(self, registry: ServedModels | None) -> None:
        """Export `registry`'s models from now on (None: export none, e.g. after shutdown)."""
        self._registry = registry

    def describe(self) -> Iterator[Metric]:
        yield _family()

    def collect(self) -> Iterator[Metric]:
        family = _family()
        models = self._registry.models.values() if self._registry is not None else ()
        for model in sorted(models, key=lambda served: served.category):
            family.add_metric([model.category, model.version], 1.0)
        yield family


def _family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "salescast_served_version_info",
        "1 for the version TorchServe serves by default for each category, as this gateway last saw it.",
        labels=["category", "version"],
    )
