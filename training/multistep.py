"""Days ahead by feeding forecasts back, exactly as the handler does it.

A forecaster maps raw windows `[B, N]` (sales units, oldest first) to the next day `[B]`. Day h ahead
of an origin t (the first day not in the window) comes from the window shifted h − 1 times with the
forecasts appended; the handler's `forecast_paths` does the same in torch, and a test holds them equal.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from training.windows import SEASON, FloatArray, IndexArray, window_inputs


class Forecaster(Protocol):
    """Raw windows `[B, N]` → the next day `[B]`; `weekdays` `[B]` (Monday 0) of the days forecast
    when the caller knows their dates (`training.model.next_phase`), else None."""

    def __call__(self, windows: FloatArray, weekdays: IndexArray | None = None, /) -> FloatArray: ...


def recursive_paths(
    forecaster: Forecaster,
    values: FloatArray,
    origins: IndexArray,
    window_size: int,
    horizon: int,
    weekdays: IndexArray | None = None,
) -> FloatArray:
    """`[len(origins), horizon]` forecasts: row i, column h − 1 is day `origins[i] + h − 1`, forecast
    from the `window_size` true days before `origins[i]`; `weekdays`: of each origin day, if known."""
    window = window_inputs(values, origins, window_size)
    paths = np.zeros((len(origins), horizon), dtype=np.float64)
    for step in range(horizon):
        if weekdays is None:
            paths[:, step] = forecaster(window)
        else:
            paths[:, step] = forecaster(window, (weekdays + step) % SEASON)
        window = np.concatenate([window[:, 1:], paths[:, step : step + 1]], axis=1)
    return paths


def actual_paths(values: FloatArray, origins: IndexArray, horizon: int) -> FloatArray:
    """`[len(origins), horizon]` true values matching `recursive_paths` (NaN past the series' end)."""
    positions = origins[:, None] + np.arange(horizon)[None, :]
    padded = np.concatenate([values, np.full(horizon, np.nan)])
    return np.asarray(padded[positions], dtype=np.float64)
