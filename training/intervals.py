"""Prediction intervals that follow the request's own recent volatility (normalized split conformal).

A held-out error is divided by the scale of the window it was forecast from; the level's quantile q of
those scores (with the finite-sample correction ⌈(n+1)·level⌉) gives the interval
`forecast ± q × scale(window)` for any later window. Scores are kept per day ahead, so the interval
widens with the horizon. The total of days 1..k gets its own scores, |Σ actual − Σ forecast| / scale:
summing per-day half-widths would assume every day misses in the same direction (too wide for
independent errors), and per-day quantiles do not add up. With a level exponent e each day's score is
also divided by `level_share`, (the day's forecast over its window's mean) ** e: a busy Saturday misses
by more than a quiet Tuesday under the one window scale. `SCALES` and `level_share` must stay equal to
the handler's `window_scale` and `level_share` (tests check them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from core.contracts.manifest import (
    LEVEL_SHARE_RANGE,
    MAX_LEVEL,
    MIN_LEVEL,
    IntervalCalibration,
    IntervalScale,
)
from training.windows import SEASON, FloatArray

CALIBRATED_LEVELS = list(range(MIN_LEVEL, MAX_LEVEL + 1))
TAIL_SCORES_BEYOND = 2
"""A validation tail's quantile is its own only when at least this many of its scores lie above it."""


def _diff(windows: FloatArray) -> FloatArray:
    return np.asarray(np.abs(np.diff(windows, axis=1)).mean(axis=1), dtype=np.float64)


def _msd(windows: FloatArray) -> FloatArray:
    lag = SEASON if windows.shape[1] > SEASON else 1
    return np.asarray(np.abs(windows[:, lag:] - windows[:, :-lag]).mean(axis=1), dtype=np.float64)


def _mad(windows: FloatArray) -> FloatArray:
    return np.asarray(np.abs(windows - windows.mean(axis=1, keepdims=True)).mean(axis=1), dtype=np.float64)


def _std(windows: FloatArray) -> FloatArray:
    return np.asarray(windows.std(axis=1), dtype=np.float64)


def _none(windows: FloatArray) -> FloatArray:
    return np.ones(len(windows), dtype=np.float64)


SCALES: dict[str, Callable[[FloatArray], FloatArray]] = {
    "none": _none,
    "diff": _diff,
    "msd": _msd,
    "mad": _mad,
    "std": _std,
}


def window_scale(windows: FloatArray, scale: IntervalScale, floor: float) -> FloatArray:
    """`[B]` scale of each window, never below `floor`."""
    return np.maximum(SCALES[scale](windows), floor)


def level_share(forecasts: FloatArray, windows: FloatArray, exponent: float) -> FloatArray:
    """`[B, H]` factor of each day's width: (forecast / its window's mean) ** `exponent`, the share
    clipped to `LEVEL_SHARE_RANGE`; 1 where the window sold nothing (no level to compare with)."""
    mean = windows.mean(axis=1, keepdims=True)
    share = np.where(mean > 0, forecasts / np.maximum(mean, 1e-12), 1.0)
    return np.asarray(np.clip(share, *LEVEL_SHARE_RANGE) ** exponent, dtype=np.float64)


def conformal_quantile(scores: FloatArray, level: float) -> float:
    """The ⌈(n+1)·level⌉-th smallest finite score (the largest when that rank passes n)."""
    finite = np.sort(scores[np.isfinite(scores)])
    if len(finite) == 0:
        return 0.0
    return float(finite[_rank(len(finite), level) - 1])


def calibrate(
    forecasts: FloatArray,
    actual: FloatArray,
    windows: FloatArray,
    *,
    scale: IntervalScale,
    floor: float,
    default_levels: Sequence[int],
    non_negative: bool,
    level_exponent: float = 0.0,
) -> IntervalCalibration:
    """Quantiles of every level in 50..99 for every step and for the total of days 1..k, from
    `forecasts`/`actual` `[B, H]` made from `windows` `[B, N]` (NaN actuals, past the data's end, are
    left out of their step and of every total that includes it)."""
    scale_of = window_scale(windows, scale, floor)[:, None]
    day_scores = np.abs(actual - forecasts) / (scale_of * level_share(forecasts, windows, level_exponent))
    # cumsum carries a NaN actual into every later total, which conformal_quantile leaves out.
    total_scores = np.abs(np.cumsum(actual, axis=1) - np.cumsum(forecasts, axis=1)) / scale_of
    return IntervalCalibration(
        scale=scale,
        scale_floor=floor,
        levels=CALIBRATED_LEVELS,
        default_levels=sorted(default_levels),
        quantiles=quantile_table(day_scores).tolist(),
        non_negative=non_negative,
        total_quantiles=quantile_table(total_scores).tolist(),
        level_exponent=level_exponent,
    )


def quantile_table(scores: FloatArray) -> FloatArray:
    """`[levels, H]` conformal quantiles of `scores` `[B, H]` for every calibrated level, made
    monotone: a wider level never gets a narrower interval, nor a later day (or a total of more
    days) a narrower one than an earlier. Across days a run that falls is pooled to its mean
    (`_pooled`), not raised to the earlier day's: a running maximum of noisy quantiles is biased
    wide, the more so the further ahead."""
    quantiles = np.asarray(
        [
            [conformal_quantile(scores[:, step], level / 100) for step in range(scores.shape[1])]
            for level in CALIBRATED_LEVELS
        ]
    )
    pooled = np.asarray([_pooled(row) for row in np.maximum.accumulate(quantiles, axis=0)])
    return np.maximum.accumulate(pooled, axis=0)


def _pooled(values: FloatArray) -> FloatArray:
    """The non-decreasing sequence nearest `values` in squared error (pool adjacent violators)."""
    blocks: list[tuple[float, int]] = []  # (sum, count) of each pooled run
    for value in values.tolist():
        total, count = value, 1
        while blocks and blocks[-1][0] * count > total * blocks[-1][1]:  # the run before is higher
            before, size = blocks.pop()
            total, count = total + before, count + size
        blocks.append((total, count))
    return np.concatenate([np.full(count, total / count) for total, count in blocks])


def tail_within_history(tail: FloatArray, whole: FloatArray, counts: Sequence[int]) -> FloatArray:
    """`[levels, H]` quantiles: the validation tail's where it can tell them, never below the whole
    history's (`tail`, `whole`: `quantile_table`s; `counts`: the tail's scores per column).

    A level whose conformal rank leaves fewer than `TAIL_SCORES_BEYOND` of the tail's scores above it
    is its tail's maximum or nearly (95 % from 30 days): one large order then set a 20× width. There
    the history's quantile is scaled by how much wider the tail runs than the history at the highest
    level the tail can tell; with no such level, the tail's own quantile stands."""
    combined = np.maximum(tail, whole)
    for column, count in enumerate(counts):
        told: int | None = None  # the highest level the tail tells (they are the lowest ones)
        for row, level in enumerate(CALIBRATED_LEVELS):
            if count - _rank(count, level / 100) >= TAIL_SCORES_BEYOND:
                told = row
            elif told is not None and whole[told, column] > 0:
                ratio = tail[told, column] / whole[told, column]
                combined[row, column] = whole[row, column] * max(1.0, ratio)
    return np.maximum.accumulate(np.maximum.accumulate(combined, axis=0), axis=1)


def _rank(count: int, level: float) -> int:
    return min(count, math.ceil((count + 1) * level))


def nearest_level(calibration: IntervalCalibration, level: float) -> int:
    """The calibrated level closest to `level` (ties: the lower), as the handler maps an asked one."""
    return min(calibration.levels, key=lambda known: (abs(known - level), known))


def total_half_width(
    calibration: IntervalCalibration, windows: FloatArray, days: int, level: float
) -> FloatArray:
    """`[B]` half-width of the `level` interval of the total of the `days` days after each window
    `[B, N]` (the handler's `total` answer: `Σ forecast ± this`, lower bound clamped at 0 when
    `non_negative`). ValueError when the calibration has no totals or `days` is beyond its steps."""
    if calibration.total_quantiles is None:
        raise ValueError("this calibration has no total_quantiles (calibrated before totals were)")
    if not 1 <= days <= calibration.steps:
        raise ValueError(f"days must be from 1 to {calibration.steps}, got {days}")
    row = calibration.total_quantiles[calibration.levels.index(nearest_level(calibration, level))]
    return row[days - 1] * window_scale(
        np.asarray(windows, dtype=np.float64), calibration.scale, calibration.scale_floor
    )


def coverage(
    calibration: IntervalCalibration, forecasts: FloatArray, actual: FloatArray, windows: FloatArray
) -> dict[str, float]:
    """Percent of one-step `actual` values inside each default level's interval (held-out check)."""
    half_unit = (
        window_scale(windows, calibration.scale, calibration.scale_floor)
        * level_share(forecasts[:, None], windows, calibration.level_exponent)[:, 0]
    )
    result = {}
    for level in calibration.default_levels:
        q = calibration.quantiles[calibration.levels.index(level)][0]
        lower = forecasts - q * half_unit
        if calibration.non_negative:
            lower = np.maximum(lower, 0.0)
        inside = (actual >= lower) & (actual <= forecasts + q * half_unit)
        result[str(level)] = round(100.0 * float(np.mean(inside)), 2)
    return result


def total_coverage(
    calibration: IntervalCalibration,
    forecasts: FloatArray,
    actual: FloatArray,
    windows: FloatArray,
    days: int,
    widen: FloatArray | None = None,
) -> dict[str, float]:
    """Percent of the totals of the first `days` `actual` values `[B, ≥ days]` inside each default
    level's interval of the total of `forecasts` (held-out check; rows with a NaN actual left out).
    `widen` [B] multiplies each half-width (calendar terms: the target days' share, as the handler)."""
    forecast_total = forecasts[:, :days].sum(axis=1)
    actual_total = actual[:, :days].sum(axis=1)
    known = np.isfinite(actual_total)
    result = {}
    for level in calibration.default_levels:
        half = total_half_width(calibration, windows, days, level)
        if widen is not None:
            half = half * widen
        lower = forecast_total - half
        if calibration.non_negative:
            lower = np.maximum(lower, 0.0)
        inside = (actual_total >= lower) & (actual_total <= forecast_total + half)
        result[str(level)] = round(100.0 * float(np.mean(inside[known])), 2) if known.any() else float("nan")
    return result
