"""What a version serves: one TorchScript module, raw window in, raw next day out.

`model.pt` takes the last N daily totals in sales units (`[B, N]`, oldest first) and returns the next
day in sales units (`[B]`); scaling, the classical part, the networks and their blend all happen
inside, so the handler and every evaluation call it the same way (`model_input: raw` in the manifest).

Scaling is per window and multiplicative: a window's level is its mean (at least `LEVEL_FLOOR` of the
training mean, so a quiet window stays finite), its unit is the level times the training days'
coefficient of variation, and the networks read and predict `(x - level) / unit`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from training.model import CNNLSTM, WeeklyProfileES
from training.multistep import Forecaster
from training.windows import FloatArray

LEVEL_FLOOR = 0.2


class WindowForecaster(nn.Module):
    """`classical_weight` × the weekly-profile forecast + the rest × the mean of the networks,
    blended in scaled units and clamped at 0 when sales are never negative."""

    def __init__(
        self,
        nets: list[CNNLSTM],
        classical: WeeklyProfileES,
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

    def scaled(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(z [B, N], level [B], unit [B]) with z = (x - level) / unit."""
        level = torch.clamp(x.mean(dim=1), min=self.level_floor)
        unit = level * self.cv
        return (x - level.unsqueeze(1)) / unit.unsqueeze(1), level, unit

    def forward(self, x: Tensor) -> Tensor:
        z, level, unit = self.scaled(x)
        networks = torch.zeros_like(level)
        for net in self.nets:
            networks = networks + net(z)
        networks = networks / max(len(self.nets), 1)
        classical = (self.classical(x) - level) / unit
        blended = self.classical_weight * classical + (1.0 - self.classical_weight) * networks
        y: Tensor = level + unit * blended
        if self.non_negative:
            y = torch.clamp(y, min=0.0)
        return y


def scale_windows(
    windows: FloatArray, targets: FloatArray, mean: float, std: float
) -> tuple[FloatArray, FloatArray]:
    """The networks' training pairs: windows and next days scaled as `WindowForecaster.scaled` does."""
    mean = max(mean, 1e-9)
    cv = std / mean if std > 0 else 1.0
    level = np.maximum(windows.mean(axis=1), LEVEL_FLOOR * mean)
    unit = level * cv
    return (windows - level[:, None]) / unit[:, None], (targets - level) / unit


def as_forecaster(module: nn.Module, batch_size: int = 1024) -> Forecaster:
    """A numpy `[B, N] → [B]` function calling a raw-in, raw-out module (eager or scripted) in eval mode."""
    module.eval()

    def forecast(windows: FloatArray) -> FloatArray:
        outputs: list[FloatArray] = []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                batch = torch.from_numpy(
                    np.ascontiguousarray(windows[start : start + batch_size], dtype=np.float32)
                )
                outputs.append(module(batch).to(torch.float64).numpy())
        return np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.float64)

    return forecast
