"""What a version serves: one TorchScript module, raw window in, raw next day out.

`model.pt` takes the last N daily totals in sales units (`[B, N]`, oldest first) and returns the next
day in sales units (`[B]`); normalization, and everything else the served model is made of, happens
inside, so the handler and every evaluation call it the same way (`model_input: raw` in the manifest).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from training.multistep import Forecaster
from training.windows import FloatArray, NormStats


class RawForecaster(nn.Module):
    """`net` (trained on windows z-scored with the training segment's mean/std) wrapped so it reads
    and answers sales units; forecasts are never negative when the training days never were."""

    def __init__(self, net: nn.Module, stats: NormStats, non_negative: bool) -> None:
        super().__init__()
        self.net = net
        self.mean = stats.mean
        self.std = stats.std
        self.non_negative = non_negative

    def forward(self, x: Tensor) -> Tensor:
        z = ((x.to(torch.float64) - self.mean) / self.std).to(torch.float32)
        y = self.net(z).to(torch.float64) * self.std + self.mean
        if self.non_negative:
            y = torch.clamp(y, min=0.0)
        out: Tensor = y.to(torch.float32)
        return out


def as_forecaster(module: nn.Module, batch_size: int = 1024) -> Forecaster:
    """A numpy `[B, N] → [B]` function calling a raw-in, raw-out module (eager or scripted) in eval mode."""
    module.eval()

    def forecast(windows: FloatArray) -> FloatArray:
        outputs: list[FloatArray] = []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                batch = torch.from_numpy(
                    np.ascontiguousarray(windows[start : start + batch_size], dtype=np.float64)
                )
                outputs.append(module(batch.to(torch.float32)).to(torch.float64).numpy())
        return np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.float64)

    return forecast
