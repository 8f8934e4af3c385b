"""Reference forecasts every model must beat, as pure functions with one signature.

Each takes the whole daily series, the positions of the target days and the window size, and
returns one forecast per target using only days before it (one-step-ahead with the true
history), so the model and every baseline are scored on exactly the same days.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.windows import SEASON, FloatArray, IndexArray, window_inputs

Baseline = Callable[[FloatArray, IndexArray, int], FloatArray]


def naive(values: FloatArray, target_index: IndexArray, window_size: int) -> FloatArray:
    """Yesterday's value."""
    _check_history(target_index, 1)
    return np.asarray(values[target_index - 1], dtype=np.float64)


def seasonal_naive(values: FloatArray, target_index: IndexArray, window_size: int) -> FloatArray:
    """The value of the same weekday one week before (period 7)."""
    _check_history(target_index, SEASON)
    return np.asarray(values[target_index - SEASON], dtype=np.float64)


def moving_average(values: FloatArray, target_index: IndexArray, window_size: int) -> FloatArray:
    """Mean of the model's input window (the previous `window_size` days)."""
    return np.asarray(window_inputs(values, target_index, window_size).mean(axis=1), dtype=np.float64)


BASELINES: dict[str, Baseline] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "moving_average": moving_average,
}


def _check_history(target_index: IndexArray, lag: int) -> None:
    if len(target_index) and int(target_index.min()) < lag:
        raise ValueError(f"target position {int(target_index.min())} has no value {lag} days before it")
