"""Days ahead by feeding forecasts back, exactly as the handler does it.

A forecaster maps raw windows `[B, N]` (sales units, oldest first) to the next day `[B]`. Day h ahead
of an origin t (the first day not in the window) comes from the window shifted h − 1 times with the
forecasts appended; the handler's `forecast_paths` does the same in torch, and a test holds them equal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.windows import FloatArray, IndexArray, window_inputs

Forecaster = Callable[[FloatArray], FloatArray]


def recursive_paths(
    forecaster: Forecaster, values: FloatArray, origins: IndexArray, window_size: int, horizon: int
) -> FloatArray:
    """`[len(origins), horizon]` forecasts: row i, column h − 1 is day `origins[i] + h − 1`, forecast
    from the `window_size` true days before `origins[i]`."""
    window = window_inputs(values, origins, window_size)
    paths = np.zeros((len(origins), horizon), dtype=np.float64)
    for step in range(horizon):
        paths[:, step] = forecaster(window)
        window = np.concatenate([window[:, 1:], paths[:, step : step + 1]], axis=1)
    return paths


def actual_paths(values: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
    """`[len(origins), horizon]` true values matching `recursive_paths` (NaN past the series' end)."""
    positions = origins[:, None] + np.arange(horizon)[None, :]
    padded = np.concatenate([values, np.full(horizon, np.nan)])
    return np.asarray(padded[positions], dtype=np.float64)
