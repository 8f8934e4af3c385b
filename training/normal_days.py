"""What a calendar day is compared with: a normal day's sales, the same weekday around it.

A holiday, a month's last days or a holiday's neighbours sell differently when their sales stand out
from the same weekday a week or two away (other such days left out): a reference that follows the
season and the level, which a plain mean of the year would not.
"""

from __future__ import annotations

import warnings

import numpy as np

from training.windows import SEASON, FloatArray

REFERENCE_LAGS = (-2 * SEASON, -SEASON, SEASON, 2 * SEASON)


def same_weekday_reference(
    values: FloatArray, excluded: np.ndarray, lags: tuple[int, ...] = REFERENCE_LAGS, median: bool = True
) -> FloatArray:
    """Per day, the median (or mean) of the same weekday `lags` days away, 1 and 2 weeks either side
    unless told (excluded days left out; NaN where fewer than two are known)."""
    n = len(values)
    stacked = np.full((len(lags), n), np.nan)
    for row, lag in enumerate(lags):
        source = np.arange(n) + lag
        inside = (source >= 0) & (source < n)
        stacked[row, inside] = np.where(excluded[source[inside]], np.nan, values[source[inside]])
    known = np.sum(np.isfinite(stacked), axis=0)
    with warnings.catch_warnings():  # a day without two known neighbours is NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        middle = (np.nanmedian if median else np.nanmean)(np.where(known >= 2, stacked, np.nan), axis=0)
    return np.asarray(middle, dtype=np.float64)


def ratio_test(sales: FloatArray, reference: FloatArray) -> tuple[float, float, int]:
    """(Σ sales / Σ reference, its t against 1 from the per-day ratios, days used)."""
    usable = np.isfinite(reference) & (reference > 0)
    if not usable.any():
        return 1.0, 0.0, 0
    ratio = float(sales[usable].sum() / reference[usable].sum())
    if usable.sum() < 2:
        return ratio, 0.0, 1
    per_day = sales[usable] / reference[usable]
    error = float(np.std(per_day, ddof=1) / np.sqrt(usable.sum()))
    return ratio, (ratio - 1.0) / error if error > 0 else 0.0, int(usable.sum())
