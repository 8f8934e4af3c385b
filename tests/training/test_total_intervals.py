"""Intervals of multi-day totals: their own conformal quantiles, not the sum of the per-day ones."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from core.contracts.manifest import IntervalCalibration, IntervalScale
from core.settings import SplitSettings
from training.evaluation import calibrate_intervals
from training.intervals import CALIBRATED_LEVELS, calibrate, total_coverage, total_half_width
from training.windows import FloatArray, IndexArray, make_category_windows

H, N = 7, 14
Z80, Z95 = 1.2816, 1.9600  # standard normal quantiles of |e| at 80 % and 95 %


def independent_errors(rows: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(forecasts, actual, windows): each row's days miss by independent normal errors of the row's
    own sd, and its window has that sd too (so a window scale follows it)."""
    rng = np.random.default_rng(seed)
    sd = rng.uniform(5.0, 50.0, rows)
    windows = 500.0 + rng.normal(0.0, 1.0, (rows, N)) * sd[:, None]
    forecasts = np.full((rows, H), 500.0)
    actual = forecasts + rng.normal(0.0, 1.0, (rows, H)) * sd[:, None]
    return forecasts, actual, windows


def calibrated(
    forecasts: FloatArray, actual: FloatArray, windows: FloatArray, scale: IntervalScale
) -> IntervalCalibration:
    return calibrate(
        forecasts, actual, windows, scale=scale, floor=0.0, default_levels=[80, 95], non_negative=True
    )


def row(table: list[list[float]] | None, level: int) -> np.ndarray:
    assert table is not None
    return np.asarray(table[CALIBRATED_LEVELS.index(level)])


def test_the_total_of_independent_days_is_narrower_than_the_sum_of_their_half_widths() -> None:
    # Unit normal errors: day 1 alone has the quantile z, the 7-day total z·√7 (not 7·z).
    rng = np.random.default_rng(2)
    unit = rng.normal(0.0, 1.0, (6000, H))
    unit_calibration = calibrated(np.zeros((6000, H)), unit, np.zeros((6000, N)), "none")
    days, totals = row(unit_calibration.quantiles, 80), row(unit_calibration.total_quantiles, 80)
    assert days[0] == pytest.approx(Z80, rel=0.05)
    # the total of one day is that day (whose quantile is pooled with the later days', alike here)
    assert totals[0] == pytest.approx(days[0], rel=0.02)
    assert totals[H - 1] == pytest.approx(Z80 * math.sqrt(H), rel=0.06)
    assert totals[H - 1] < 0.5 * days.sum()
    assert row(unit_calibration.total_quantiles, 95)[H - 1] == pytest.approx(Z95 * math.sqrt(H), rel=0.06)


def test_totals_cover_held_out_totals_at_their_level() -> None:
    calibration = calibrated(*independent_errors(4000, seed=3), scale="std")
    forecasts, actual, windows = independent_errors(4000, seed=4)
    for level in (80, 95):
        for days in (2, H):
            half = total_half_width(calibration, windows, days, level)
            total_forecast, total_actual = forecasts[:, :days].sum(axis=1), actual[:, :days].sum(axis=1)
            inside = np.abs(total_actual - total_forecast) <= half
            assert 100 * inside.mean() == pytest.approx(level, abs=2.0), (level, days)
    covered = total_coverage(calibration, forecasts, actual, windows, H)
    assert covered.keys() == {"80", "95"}
    assert covered["80"] == pytest.approx(80, abs=2.0) and covered["95"] == pytest.approx(95, abs=2.0)
    actual[:10, H - 1] = np.nan  # a total past the data's end is left out, not counted as a miss
    assert total_coverage(calibration, forecasts, actual, windows, H)["95"] == pytest.approx(
        covered["95"], abs=0.3
    )
    # The window scale carries each row's own volatility: a calm row's total interval is narrower.
    half = total_half_width(calibration, windows, H, 80)
    calm, wild = np.argmin(windows.std(axis=1)), np.argmax(windows.std(axis=1))
    assert half[calm] < 0.5 * half[wild]


def test_a_missing_actual_leaves_out_only_the_totals_that_include_it() -> None:
    forecasts, actual, windows = independent_errors(400, seed=5)
    cut = actual.copy()
    cut[:200, 3:] = np.nan  # half the rows end after 3 days (past the data's end)
    with_nan = calibrated(forecasts, cut, windows, "none")
    early = calibrated(forecasts[:, :3], actual[:, :3], windows, "none")
    late = calibrated(forecasts[200:], actual[200:], windows[200:], "none")
    assert with_nan.total_quantiles is not None and early.total_quantiles is not None
    for level in (60, 80, 95):
        assert row(with_nan.total_quantiles, level)[:3] == pytest.approx(row(early.total_quantiles, level))
        # from day 4 on only the complete rows count (max-accumulated over k, as the table is)
        want = np.maximum(row(late.total_quantiles, level)[3:], row(early.total_quantiles, level)[2])
        assert row(with_nan.total_quantiles, level)[3:] == pytest.approx(want)


def test_the_total_table_never_narrows_with_level_or_days() -> None:
    forecasts, actual, windows = independent_errors(300, seed=6)
    table = np.asarray(calibrated(forecasts, actual, windows, "mad").total_quantiles)
    assert table.shape == (len(CALIBRATED_LEVELS), H)
    assert np.all(np.diff(table, axis=0) >= 0) and np.all(np.diff(table, axis=1) >= 0)


def test_history_widens_the_totals_too() -> None:
    days = 400
    rng = np.random.default_rng(0)
    sd = np.where(np.arange(days) < 0.6 * days, 50.0, 5.0)  # wild history, calm validation tail
    values = 200.0 + rng.normal(0.0, 1.0, days) * sd
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=days, freq="D"), name="Toys")
    windows = make_category_windows(series, N, SplitSettings(train=0.7, val=0.15))

    def mean_forecaster(x: FloatArray, _weekdays: IndexArray | None = None) -> FloatArray:
        return np.asarray(x.mean(axis=1), dtype=np.float64)

    tail, widened = (
        calibrate_intervals(
            mean_forecaster,
            windows,
            3,
            scale="none",
            default_levels=[80],
            history=history,
            level_exponent=0.0,
        )
        for history in (False, True)
    )
    assert tail.total_quantiles is not None and widened.total_quantiles is not None
    assert np.all(np.asarray(widened.total_quantiles) >= np.asarray(tail.total_quantiles))
    assert row(widened.total_quantiles, 80)[2] > 5 * row(tail.total_quantiles, 80)[2]


def test_total_half_width_refuses_what_the_calibration_cannot_answer() -> None:
    calibration = calibrated(*independent_errors(50, seed=7), scale="none")
    old = calibration.model_copy(update={"total_quantiles": None})
    with pytest.raises(ValueError, match="no total_quantiles"):
        total_half_width(old, np.zeros((1, N)), 2, 80)
    with pytest.raises(ValueError, match="days must be from 1 to 7, got 8"):
        total_half_width(calibration, np.zeros((1, N)), H + 1, 80)
    # an asked level maps to the nearest calibrated one, as the handler maps it
    exact = total_half_width(calibration, np.zeros((1, N)), 2, 80)
    assert total_half_width(calibration, np.zeros((1, N)), 2, 80.4) == pytest.approx(exact)


def test_the_manifest_checks_the_total_table_and_keeps_reading_old_ones() -> None:
    base = {
        "scale": "none",
        "levels": [80, 95],
        "default_levels": [80],
        "quantiles": [[1.0, 2.0], [2.0, 3.0]],
    }
    assert IntervalCalibration.model_validate(base).total_quantiles is None  # archives before totals
    good = IntervalCalibration.model_validate({**base, "total_quantiles": [[1.0, 1.5], [2.0, 2.5]]})
    assert good.total_quantiles == [[1.0, 1.5], [2.0, 2.5]]
    for bad, message in (
        ([[1.0, 1.5]], "one row per level"),
        ([[1.0], [2.0]], "one row per level"),
        ([[1.0, -1.0], [2.0, 2.5]], "finite and non-negative"),
        ([[1.0, float("nan")], [2.0, 2.5]], "finite and non-negative"),
    ):
        with pytest.raises(ValidationError, match=message):
            IntervalCalibration.model_validate({**base, "total_quantiles": bad})
