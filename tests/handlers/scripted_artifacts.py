"""Tiny TorchScript artifacts that follow the training contract, so serving tests need no training.

`write_scripted_version` writes `<artifacts>/<slug>/<version>/{model.pt, norm_stats.json, metrics.json}`
exactly as `core.artifacts` lays them out; the model is a seeded linear map, distinct per seed so two
versions answer differently, of one of the three kinds of manifest a model store may hold:
"window_level" (format 3, what training writes: `forward(z, level, unit, weekday)` over windows the
handler normalized), and the two kinds of archives made before the format version: "normalized"
(`forward((x - mean) / std)`) and "raw" (`forward(x)` in sales units).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import nn

from core.artifacts import MODEL_FILE
from core.contracts.manifest import (
    FORMAT_VERSION,
    IntervalCalibration,
    VersionManifest,
    WindowNormalization,
    write_manifest,
)
from core.contracts.metrics import VersionMetrics, write_metrics
from core.slugs import category_slug

DEFAULT_WINDOW = 14
Kind = Literal["normalized", "raw", "window_level"]
KINDS: tuple[Kind, ...] = ("normalized", "raw", "window_level")


class TinyForecaster(nn.Module):
    """A linear next-day model: the smallest thing honouring `forward(x[B, N]) -> [B]`."""

    def __init__(self, window_size: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(window_size, generator=generator) / window_size)
        self.bias = nn.Parameter(torch.randn(1, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class TinyScaledForecaster(TinyForecaster):
    """The same map over a normalized window, honouring `forward(z[B, N], level[B], unit[B],
    weekday[B] | None) -> [B]` (next day in the window's units; it also reads the level, as the real
    one does, and adds 0.01 × the weekday where it is known)."""

    def forward(  # type: ignore[override]
        self, z: torch.Tensor, level: torch.Tensor, unit: torch.Tensor, weekday: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = z @ self.weight + self.bias + 0.001 * level / unit
        if weekday is not None:
            out = out + 0.01 * torch.clamp(weekday, min=0).float()
        return out


def scripted_model(
    window_size: int = DEFAULT_WINDOW, seed: int = 0, kind: Kind = "normalized"
) -> torch.jit.ScriptModule:
    """The TorchScript form of a tiny model of `kind`, as training exports its model."""
    module = TinyScaledForecaster if kind == "window_level" else TinyForecaster
    return torch.jit.script(module(window_size, seed).eval())


def manifest(
    category: str,
    version: str,
    window_size: int,
    mean: float,
    std: float,
    *,
    max_horizon: int = 1,
    intervals: IntervalCalibration | None = None,
    kind: Kind = "normalized",
    format_version: int = FORMAT_VERSION,
) -> VersionManifest:
    """A version manifest (`norm_stats.json`) with every field of the contract, of `kind`
    ("window_level": of `format_version`, 2 for a version from before the weekday input)."""
    scaled = kind == "window_level"
    return VersionManifest(
        format_version=format_version if scaled else 1,
        model_input="raw" if kind == "raw" else "normalized",
        normalization=window_normalization(mean, std) if scaled else None,
        max_horizon=max_horizon,
        intervals=intervals,
        category=category,
        slug=category_slug(category),
        version=version,
        window_size=window_size,
        mean=mean,
        std=std,
        fill_policy="zero",
        train_start="2023-01-01",
        train_end="2024-06-30",
        last_date="2024-06-30",  # made from data that ended mid-2024: it saw none of the later days
        data_file="sample_sales.csv",
        data_sha256="0" * 64,
    )


def window_normalization(mean: float, std: float) -> WindowNormalization:
    """The block training writes for a segment of this mean and std (level floor 0.2 × mean)."""
    return WindowNormalization(level_floor=0.2 * mean, cv=std / mean, non_negative=True)


def metrics(category: str, version: str, window_size: int) -> VersionMetrics:
    """A `metrics.json` with every field of the contract."""
    scores = {"mae": 1.0, "rmse": 1.5, "smape": 10.0, "mase": 0.9, "rmsse": 0.9}
    return VersionMetrics.model_validate(
        {
            "category": category,
            "version": version,
            "window_size": window_size,
            "n_test": 30,
            "test_start": "2024-12-01",
            "test_end": "2024-12-30",
            "test": {name: dict(scores) for name in ("model", "naive", "seasonal_naive", "moving_average")},
        }
    )


def calibration(
    steps: int, *, scale: str = "none", floor: float = 0.0, totals: bool = True, level_exponent: float = 0.0
) -> IntervalCalibration:
    """Intervals of half-width `level / 10 × step` (× the window scale × the day's level share), and
    for the total of days 1..k `level / 20 × k` (half the k-th day's, as partly cancelling errors
    give): easy to check by hand. Without `totals`, a calibration made before intervals of totals
    existed."""
    levels = [50, 80, 95]
    return IntervalCalibration.model_validate(
        {
            "scale": scale,
            "scale_floor": floor,
            "levels": levels,
            "default_levels": [80, 95],
            "quantiles": [[level / 10 * step for step in range(1, steps + 1)] for level in levels],
            "total_quantiles": (
                [[level / 20 * days for days in range(1, steps + 1)] for level in levels] if totals else None
            ),
            "level_exponent": level_exponent,
        }
    )


def write_scripted_version(
    artifacts: Path,
    category: str,
    version: str,
    *,
    window_size: int = DEFAULT_WINDOW,
    seed: int = 0,
    mean: float = 250.0,
    std: float = 40.0,
    model_bytes: bytes | None = None,
    max_horizon: int = 1,
    intervals: IntervalCalibration | None = None,
    kind: Kind = "normalized",
    format_version: int = FORMAT_VERSION,
) -> Path:
    """Write one complete version folder of `kind` (and `format_version`, `manifest`); `model_bytes`
    replaces model.pt (e.g. a corrupt file)."""
    folder = artifacts / category_slug(category) / version
    folder.mkdir(parents=True, exist_ok=True)
    if model_bytes is None:
        torch.jit.save(scripted_model(window_size, seed, kind), str(folder / MODEL_FILE))
    else:
        (folder / MODEL_FILE).write_bytes(model_bytes)
    write_manifest(
        folder,
        manifest(
            category,
            version,
            window_size,
            mean,
            std,
            max_horizon=max_horizon,
            intervals=intervals,
            kind=kind,
            format_version=format_version,
        ),
    )
    write_metrics(folder, metrics(category, version, window_size))
    return folder
