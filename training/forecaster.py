"""What a version serves: one TorchScript module over normalized windows, and training's way to run it.

`model.pt` takes windows the handler normalized (`z [B, N]` float32, oldest first) with each window's
`level [B]` and `unit [B]`, and optionally the weekday of the day to forecast (`weekday [B]` int64,
Monday 0, -1 where the request sent no date), and returns the next day in the same scaled units
(`[B]`); the handler
(`handlers.forecast_steps`) computes the normalization and maps the answer back to sales, as the
manifest's `normalization` block (`WindowNormalization`) says. Training and evaluation run every model
through the same `predict` (`as_forecaster`), so what is scored is what is served.

Scaling is per window and multiplicative: a window's level is its mean (at least `LEVEL_FLOOR` of the
training mean, so a quiet window stays finite), its unit is the level times the training days'
coefficient of variation, and the networks read and predict `(x - level) / unit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from core.contracts.manifest import VersionManifest, WindowNormalization
from handlers.forecast_steps import predict, prepare_stats
from training.model import CNNLSTM, ThetaForecast, TSBForecast, WeeklyProfileES
from training.multistep import Forecaster
from training.windows import FloatArray, IndexArray

LEVEL_FLOOR = 0.2


class WindowForecaster(nn.Module):
    """`classical_weight` × the classical forecast (weekly profile or TSB) + the rest × the mean of
    the networks, blended in scaled units. `forward(z, level, unit, weekday)`: z = (x - level) / unit
    as `normalization()` says, `weekday` for the classical part (`training.model.next_phase`); the next
    day in those units (the handler maps it back and clamps it at 0 when sales are never negative)."""

    def __init__(
        self,
        nets: list[CNNLSTM],
        classical: WeeklyProfileES | TSBForecast | ThetaForecast,
        classical_weight: float,
        mean: float,
        std: float,
        non_negative: bool,
    ) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.classical = classical
        self.classical_weight = classical_weight
        self.mean = max(mean, 1e-9)
        self.cv = std / self.mean if std > 0 else 1.0
        self.non_negative = non_negative
        self.level_floor = LEVEL_FLOOR * self.mean

    def forward(self, z: Tensor, level: Tensor, unit: Tensor, weekday: Tensor | None = None) -> Tensor:
        networks = torch.zeros_like(level)
        for net in self.nets:
            networks = networks + net(z)
        networks = networks / max(len(self.nets), 1)
        # the classical part reads the window in sales units: rebuilt from its scaled form
        window = level.unsqueeze(1) + unit.unsqueeze(1) * z
        classical = (self.classical(window, weekday) - level) / unit
        blended: Tensor = self.classical_weight * classical + (1.0 - self.classical_weight) * networks
        return blended

    def normalization(self) -> WindowNormalization:
        """What the handler must apply around this module (written to the manifest)."""
        return WindowNormalization(level_floor=self.level_floor, cv=self.cv, non_negative=self.non_negative)


def scale_windows(
    windows: FloatArray, targets: FloatArray, mean: float, std: float
) -> tuple[FloatArray, FloatArray]:
    """The networks' training pairs: windows and next days scaled as the handler scales a request
    (`WindowNormalization`)."""
    mean = max(mean, 1e-9)
    cv = std / mean if std > 0 else 1.0
    level = np.maximum(windows.mean(axis=1), LEVEL_FLOOR * mean)
    unit = level * cv
    return (windows - level[:, None]) / unit[:, None], (targets - level) / unit


def served_normalization(manifest: VersionManifest) -> dict[str, Any]:
    """What the handler applies around a version's `model.pt`, whatever its format version."""
    normalization: dict[str, Any] = prepare_stats(manifest.model_dump(mode="json"))["normalization"]
    return normalization


def as_forecaster(
    model: nn.Module, normalization: WindowNormalization | Mapping[str, Any], *, weekdays: bool = True
) -> Forecaster:
    """A numpy `[B, N] → [B]` function (sales units) running `model` (eager or scripted, eval mode)
    exactly as the handler does: `handlers.forecast_steps.predict` with `normalization`, and the
    weekdays of the days forecast when a caller knows them and `weekdays` (False: a model that takes
    none, `model.pt` before format 3)."""
    model.eval()
    block = (
        normalization.model_dump() if isinstance(normalization, WindowNormalization) else dict(normalization)
    )

    def forecast(windows: FloatArray, days: IndexArray | None = None) -> FloatArray:
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float64)
        inputs = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float64))
        known = torch.from_numpy(np.asarray(days, dtype=np.int64)) if weekdays and days is not None else None
        return np.asarray(predict(model, inputs, block, known).numpy(), dtype=np.float64)

    return forecast
