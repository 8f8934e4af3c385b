"""Interval calibration: the validation tail, widened by the whole history where that was wilder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.settings import SplitSettings
from training.evaluation import calibrate_intervals
from training.windows import CategoryWindows, FloatArray, make_category_windows

N = 14
SPLIT = SplitSettings(train=0.7, val=0.15)


def window_mean(windows: FloatArray) -> FloatArray:
    return np.asarray(windows.mean(axis=1), dtype=np.float64)


def calm_after_wild(days: int = 400) -> CategoryWindows:
    """Noise of sd 50 for the first 60 % of the days, then of sd 5 (the validation tail is calm)."""
    rng = np.random.default_rng(0)
    sd = np.where(np.arange(days) < 0.6 * days, 50.0, 5.0)
    values = 200.0 + rng.normal(0.0, 1.0, days) * sd
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=days, freq="D"), name="Toys")
    return make_category_windows(series, N, SPLIT)


def quantiles(windows: CategoryWindows, history: bool) -> np.ndarray:
    calibration = calibrate_intervals(
        window_mean, windows, 3, scale="none", default_levels=[80, 95], history=history
    )
    return np.asarray(calibration.quantiles)


def test_a_calm_tail_does_not_narrow_the_intervals_below_the_historys() -> None:
    windows = calm_after_wild()
    tail, widened = quantiles(windows, False), quantiles(windows, True)
    assert np.all(widened >= tail)
    level_80 = list(range(50, 100)).index(80)
    # the tail alone says about 6 (its own noise), the history about 10x that
    assert tail[level_80, 0] == pytest.approx(6.4, rel=0.5)
    assert widened[level_80, 0] > 5 * tail[level_80, 0]


def test_a_wild_tail_keeps_its_own_width() -> None:
    windows = calm_after_wild()
    reversed_values = windows.values[::-1].copy()
    series = pd.Series(reversed_values, index=pd.date_range("2024-01-01", periods=len(reversed_values)))
    wild_tail = make_category_windows(series.rename("Toys"), N, SPLIT)
    up_to_95 = slice(0, list(range(50, 100)).index(95) + 1)  # a 99 % quantile may still be the history's
    assert quantiles(wild_tail, True)[up_to_95] == pytest.approx(quantiles(wild_tail, False)[up_to_95])
