"""Interval calibration: the validation tail, widened by the whole history where that was wilder."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.settings import SplitSettings
from training.evaluation import calibrate_intervals
from training.intervals import CALIBRATED_LEVELS, coverage, quantile_table, tail_within_history
from training.windows import CategoryWindows, FloatArray, IndexArray, make_category_windows

N = 14
SPLIT = SplitSettings(train=0.7, val=0.15)


def window_mean(windows: FloatArray, _weekdays: IndexArray | None = None) -> FloatArray:
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
        window_mean, windows, 3, scale="none", default_levels=[80, 95], history=history, level_exponent=0.0
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
    days = len(wild_tail.val)
    told = [level for level in CALIBRATED_LEVELS if days - math.ceil((days + 1) * level / 100) >= 2]
    assert 90 in told  # ~58 tail days tell the 90 % quantile, not the 99 %
    own = slice(0, len(told))
    assert quantiles(wild_tail, True)[own] == pytest.approx(quantiles(wild_tail, False)[own])


def test_one_large_order_in_a_short_tail_does_not_set_the_wide_levels() -> None:
    """30 tail days: the 95 % quantile would be their largest score. One order 20x the usual is then
    the whole interval; the history's 95 % quantile, scaled as the tail runs at 90 %, is not."""
    scores = np.abs(np.random.default_rng(1).normal(0.0, 1.0, (30, 1)))
    scores[7, 0] = 20.0
    history = np.abs(np.random.default_rng(2).normal(0.0, 1.0, (300, 1)))
    tail, whole = quantile_table(scores), quantile_table(np.vstack([history, scores]))
    combined = tail_within_history(tail, whole, [30])
    at = CALIBRATED_LEVELS.index
    assert tail[at(95), 0] == 20.0
    assert combined[at(95), 0] < 3.0
    ratio = max(1.0, tail[at(90), 0] / whole[at(90), 0])
    assert combined[at(95), 0] == pytest.approx(whole[at(95), 0] * ratio)
    assert combined[at(80), 0] == pytest.approx(max(tail[at(80), 0], whole[at(80), 0]))
    assert np.all(np.diff(combined[:, 0]) >= 0)  # a wider level never gets a narrower interval


def test_a_tail_too_short_for_any_level_keeps_its_own_quantiles() -> None:
    tail, whole = np.full((len(CALIBRATED_LEVELS), 1), 4.0), np.full((len(CALIBRATED_LEVELS), 1), 1.0)
    assert np.all(tail_within_history(tail, whole, [3]) == 4.0)


def same_weekday(windows: FloatArray, _weekdays: IndexArray | None = None) -> FloatArray:
    """The mean of the same weekday one and two weeks before the next day."""
    return np.asarray((windows[:, -7] + windows[:, -14]) / 2, dtype=np.float64)


def test_a_busy_day_gets_an_interval_as_wide_as_it_misses() -> None:
    """Sales that miss in proportion to the day's level (a busy Saturday twice a quiet day's level):
    one width per window leaves Saturdays far under-covered; the level share evens the days out."""
    days = 3000
    rng = np.random.default_rng(1)
    week = np.array([0.85, 0.85, 0.85, 0.85, 0.85, 1.8, 0.95])
    values = 200.0 * week[np.arange(days) % 7] * rng.gamma(8.0, 1 / 8.0, days)
    series = pd.Series(values, index=pd.date_range("2020-01-06", periods=days, freq="D"), name="Toys")
    windows = make_category_windows(series, N, SPLIT)
    inputs, actual = windows.inputs("test"), windows.targets("test")
    forecast = same_weekday(inputs)
    busy = forecast > 1.3 * inputs.mean(axis=1)

    def covered(exponent: float, rows: np.ndarray) -> float:
        calibration = calibrate_intervals(
            same_weekday, windows, 1, scale="msd", default_levels=[80], history=True, level_exponent=exponent
        )
        return coverage(calibration, forecast[rows], actual[rows], inputs[rows])["80"]

    assert busy.sum() > 50
    assert covered(0.0, busy) < 65 and covered(0.0, ~busy) > 83  # one width: Saturdays missed
    assert 72 < covered(1.0, busy) < 88 and 72 < covered(1.0, ~busy) < 88


def test_days_alike_are_not_widened_by_the_noisiest_day_before_them() -> None:
    """Errors of one spread every day ahead: a running maximum of the days' noisy quantiles widens the
    later days; pooling keeps them at the common quantile, and never lets a later day narrow."""
    rng = np.random.default_rng(8)
    scores = np.abs(rng.normal(0.0, 1.0, (150, 28)))
    table = quantile_table(scores)[CALIBRATED_LEVELS.index(80)]
    running_maximum = np.maximum.accumulate([np.quantile(scores[:, step], 0.8) for step in range(28)])
    assert np.all(np.diff(table) >= 0)
    assert table.mean() == pytest.approx(1.2816, rel=0.05)  # |unit normal|'s 80 % quantile
    assert running_maximum.mean() > 1.1 * 1.2816
