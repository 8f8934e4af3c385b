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


def reference_next_day(
    model_dir: Path, windows: Sequence[Sequence[float]], weekday: int | None = None
) -> list[float]:
    """The next day (sales units) after each window, as the manifest in `model_dir` says to compute it;
    `weekday` (Monday 0) of that day goes to a format 3 model."""
    stats = json.loads((model_dir / "norm_stats.json").read_text(encoding="utf-8"))
    model = load_model(model_dir / "model.pt")
    x = torch.tensor([list(window) for window in windows], dtype=torch.float64)
    with torch.no_grad():
        if stats.get("format_version", 1) >= 2:
            block = stats["normalization"]
            assert block["method"] == "window_level"
            level = torch.clamp(x.mean(dim=1), min=block["level_floor"])
            unit = level * block["cv"]
            z = ((x - level[:, None]) / unit[:, None]).float()
            inputs = [z, level.float(), unit.float()]
            if weekday is not None and stats["format_version"] >= 3:
                inputs.append(torch.full((len(x),), weekday, dtype=torch.int64))
            y = level + unit * model(*inputs).double()
            y = y.clamp(min=0.0) if block["non_negative"] else y
        elif stats.get("model_input", "normalized") == "raw":
            y = model(x.float()).double()
        else:
            mean, std = stats["mean"], stats["std"]
            y = model(((x - mean) / std).float()).double() * std + mean
    values: list[float] = y.tolist()
    return values


def reference_total(
    model_dir: Path, window: Sequence[float], days: int, levels: Sequence[int]
) -> tuple[float, dict[int, tuple[float, float]] | None]:
    """(the total of the `days` days after `window`, {level: (lower, upper)} or None when the
    manifest has no `total_quantiles`), as `IntervalCalibration`'s docstring says: each day fed back
    into the window, `Σ forecast ± total_quantiles[level][days − 1] × scale(window)`, lower ≥ 0 with
    `non_negative`; an asked level answered by the nearest calibrated one (ties: the lower)."""
    current, total = list(window), 0.0
    for _ in range(days):
        value = reference_next_day(model_dir, [current])[0]
        total += value
        current = [*current[1:], value]
    calibration = json.loads((model_dir / "norm_stats.json").read_text(encoding="utf-8")).get("intervals")
    if calibration is None or calibration.get("total_quantiles") is None:
        return total, None
    scale = max(_scale(list(window), calibration["scale"]), calibration.get("scale_floor", 0.0))
    bounds = {}
    for asked in levels:
        level = min(calibration["levels"], key=lambda known: (abs(known - asked), known))
        half = calibration["total_quantiles"][calibration["levels"].index(level)][days - 1] * scale
        lower = total - half
        if calibration.get("non_negative", True):
            lower = max(lower, 0.0)
        bounds[level] = (lower, total + half)
    return total, bounds


def _scale(x: list[float], method: str) -> float:
    """The manifest's window scales, written out over a plain list."""
    n = len(x)
    mean = sum(x) / n
    if method == "none":
        return 1.0
    if method == "diff":
        return sum(abs(x[t] - x[t - 1]) for t in range(1, n)) / (n - 1)
    if method == "msd":
        lag = 7 if n > 7 else 1
        return sum(abs(x[t] - x[t - lag]) for t in range(lag, n)) / (n - lag)
    if method == "mad":
        return sum(abs(v - mean) for v in x) / n
    assert method == "std", method
    return float((sum((v - mean) ** 2 for v in x) / n) ** 0.5)
