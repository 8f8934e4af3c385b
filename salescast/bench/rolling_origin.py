"""Rolling-origin folds and the per-fold CNN-LSTM fit.

Fold k of K covers `fold_days` target days; its cut-off is its first target day. Folds tile the
most recent `K × fold_days` days, oldest first, so every method is scored on the same days. A fold's
model sees only days before its cut-off: its windows are split chronologically into train and
validation (early stopping) by the configured fractions, normalized on the training days, and it
forecasts each target day from the N true days before it, the way the service is used.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import SalescastError
from core.settings import Settings
from training.windows import (
    SEASON,
    CategoryWindows,
    FloatArray,
    IndexArray,
    fit_norm_stats,
    window_inputs,
)


class BenchDataError(SalescastError, ValueError):
    """A category's history is too short for the requested folds."""


@dataclass(frozen=True)
class Fold:
    """One fold: its number (0 = oldest), the cut-off position and the target positions."""

    number: int
    cutoff: int
    targets: IndexArray


def make_folds(n_days: int, folds: int, fold_days: int, min_train_days: int, category: str) -> list[Fold]:
    """`folds` consecutive blocks of `fold_days` targets ending on the last day; checks the history."""
    first_cutoff = n_days - folds * fold_days
    if first_cutoff < min_train_days:
        raise BenchDataError(
            f"category {category!r} has {n_days} days; {folds} folds of {fold_days} days need at least "
            f"{min_train_days + folds * fold_days} (use fewer --folds or a shorter bench.fold_days)"
        )
    return [
        Fold(
            number=k,
            cutoff=first_cutoff + k * fold_days,
            targets=np.arange(
                first_cutoff + k * fold_days, first_cutoff + (k + 1) * fold_days, dtype=np.int64
            ),
        )
        for k in range(folds)
    ]


def min_train_days(window_size: int) -> int:
    """Fewest days before the first cut-off: a few weeks of windows for train and validation."""
    return window_size + 4 * SEASON


def fold_windows(
    category: str, values: FloatArray, dates: pd.DatetimeIndex, cutoff: int, settings: Settings
) -> CategoryWindows:
    """Train/validation windows from the days before `cutoff` (the test segment is unused: the fold's
    targets are scored separately); normalization fitted on the training days only."""
    size = settings.window.size
    positions = np.arange(size, cutoff, dtype=np.int64)
    val_share = settings.split.val / (settings.split.train + settings.split.val)
    n_val = max(1, round(val_share * len(positions)))
    if len(positions) - n_val < 1:
        raise BenchDataError(f"category {category!r}: no training windows before day {cutoff}")
    train, val = positions[:-n_val], positions[-n_val:]
    return CategoryWindows(
        category=category,
        window_size=size,
        values=values[:cutoff],
        dates=dates[:cutoff],
        train=train,
        val=val,
        test=val,
        stats=fit_norm_stats(values[: int(train[-1]) + 1]),
    )


def fit_and_forecast(
    windows: CategoryWindows, values: FloatArray, targets: IndexArray, settings: Settings
) -> FloatArray:
    """Make the configured forecaster from `windows` (no MLflow) and forecast `targets` one step ahead."""
    import torch

    from training.fitting import fit_forecaster
    from training.forecaster import as_forecaster

    # the forecast below runs on the training thread count too (the fit restores the caller's)
    torch.set_num_threads(settings.training.num_threads)
    with tempfile.TemporaryDirectory(prefix="salescast-bench-") as checkpoints:
        forecaster = fit_forecaster(windows, settings, Path(checkpoints))
    return as_forecaster(forecaster)(window_inputs(values, targets, windows.window_size))
