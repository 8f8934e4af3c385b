"""An independent reading of a version: its next-day forecasts from `model.pt` + `norm_stats.json`
alone, written from the formula the manifest documents (core/contracts/manifest.py) with plain
torch and json — none of the handler's or training's normalization code — so tests can hold both
to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from handlers.forecast_steps import load_model  # loading only: the one torch.jit.load


def reference_next_day(model_dir: Path, windows: Sequence[Sequence[float]]) -> list[float]:
    """The next day (sales units) after each window, as the manifest in `model_dir` says to compute it."""
    stats = json.loads((model_dir / "norm_stats.json").read_text(encoding="utf-8"))
    model = load_model(model_dir / "model.pt")
    x = torch.tensor([list(window) for window in windows], dtype=torch.float64)
    with torch.no_grad():
        if stats.get("format_version", 1) == 2:
            block = stats["normalization"]
            assert block["method"] == "window_level"
            level = torch.clamp(x.mean(dim=1), min=block["level_floor"])
            unit = level * block["cv"]
            z = ((x - level[:, None]) / unit[:, None]).float()
            y = level + unit * model(z, level.float(), unit.float()).double()
            y = y.clamp(min=0.0) if block["non_negative"] else y
        elif stats.get("model_input", "normalized") == "raw":
            y = model(x.float()).double()
        else:
            mean, std = stats["mean"], stats["std"]
            y = model(((x - mean) / std).float()).double() * std + mean
    values: list[float] = y.tolist()
    return values
