"""The result of `salescast bench serving`: every layer's measurements, and the ratios between layers
that docs/benchmarks.md quotes (robust to other load on a shared machine, unlike absolute numbers)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.settings import TorchServeTuning
from salescast.bench.load import LoadResult

LAYERS = ("floor", "torchserve", "gateway")
BATCH_LAYERS = ("floor_batch", "torchserve_batch", "gateway_batch")


@dataclass
class TuningResult:
    tuning: TorchServeTuning
    results: list[LoadResult]

    def to_dict(self) -> dict[str, Any]:
        return {**self.tuning.model_dump(), "results": [r.to_dict() for r in self.results]}


@dataclass
class ServingReport:
    archive: dict[str, Any]
    duration_s: float
    batch_items: int
    results: list[LoadResult]
    tuning: list[TuningResult] = field(default_factory=list)
    client: str = "python"
    load_average: dict[str, float] = field(default_factory=dict)

    def result(self, layer: str, concurrency: int) -> LoadResult | None:
        return next((r for r in self.results if r.layer == layer and r.concurrency == concurrency), None)

    def _concurrencies(self, layer: str) -> list[int]:
        return sorted({r.concurrency for r in self.results if r.layer == layer})

    def ratios(self) -> list[dict[str, float]]:
        """Single predictions per concurrency: gateway/TorchServe and TorchServe/floor throughput, the
        gateway's added p50 in ms, and the p50 ratios."""
        return self._per_concurrency(
            LAYERS,
            lambda floor, served, gateway: {
                "gateway_over_torchserve_rps": _ratio(gateway.items_per_s, served.items_per_s),
                "gateway_added_p50_ms": gateway.percentile_ms(50) - served.percentile_ms(50),
                "torchserve_over_floor_rps": _ratio(served.items_per_s, floor.items_per_s),
                "gateway_over_torchserve_p50": _ratio(gateway.percentile_ms(50), served.percentile_ms(50)),
                "torchserve_over_floor_p50": _ratio(served.percentile_ms(50), floor.percentile_ms(50)),
                "gateway_over_torchserve_cpu": _cpu_ratio(gateway),
            },
        )

    def batch_ratios(self) -> list[dict[str, float]]:
        """Batches per concurrency: gateway/TorchServe, TorchServe/floor and gateway/floor items/s."""
        return self._per_concurrency(
            BATCH_LAYERS,
            lambda floor, served, gateway: {
                "gateway_over_torchserve_rps": _ratio(gateway.items_per_s, served.items_per_s),
                "torchserve_over_floor_rps": _ratio(served.items_per_s, floor.items_per_s),
                "gateway_over_floor_rps": _ratio(gateway.items_per_s, floor.items_per_s),
                "gateway_over_torchserve_cpu": _cpu_ratio(gateway),
            },
        )

    def _per_concurrency(
        self,
        layers: tuple[str, str, str],
        row: Callable[[LoadResult, LoadResult, LoadResult], dict[str, float]],
    ) -> list[dict[str, float]]:
        """`row(floor, served, gateway)` at every concurrency where all three `layers` were measured."""
        rows: list[dict[str, float]] = []
        for concurrency in self._concurrencies(layers[1]):
            floor, served, gateway = (self.result(layer, concurrency) for layer in layers)
            if floor is not None and served is not None and gateway is not None:
                rows.append({"concurrency": concurrency, **row(floor, served, gateway)})
        return rows

    def scaling(self) -> list[dict[str, float]]:
        """Single predictions from one concurrency to the next: does throughput hold, and the p99."""
        rows = []
        levels = self._concurrencies("torchserve")
        for lower, higher in itertools.pairwise(levels):
            row: dict[str, float] = {"from": lower, "to": higher}
            for layer in ("torchserve", "gateway"):
                low, high = self.result(layer, lower), self.result(layer, higher)
                if low is None or high is None:
                    continue
                row[f"{layer}_rps_ratio"] = _ratio(high.items_per_s, low.items_per_s)
                row[f"{layer}_p99_ms"] = high.percentile_ms(99)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        settings = ("archive", "duration_s", "batch_items", "client", "load_average")
        return {
            **{name: getattr(self, name) for name in settings},
            "results": [r.to_dict() for r in self.results],
            "ratios": self.ratios(),
            "batch_ratios": self.batch_ratios(),
            "scaling": self.scaling(),
            "tuning": [t.to_dict() for t in self.tuning],
        }


def _cpu_ratio(result: LoadResult) -> float:
    """The gateway's CPU per item over TorchServe's, in the same gateway measurement."""
    cpu = result.cpu_ms_per_item
    return _ratio(cpu.get("gateway", math.nan), cpu.get("torchserve", math.nan))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 and math.isfinite(denominator) else math.nan
