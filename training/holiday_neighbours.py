"""A holiday's neighbours (Christmas Eve, Black Friday as Thanksgiving + 1): the days just before and
after a public holiday, in groups (each holiday's days before, its days after) kept when they sell
differently from runs of normal days drawn at random, each day then given its own factor.

`training.calendar` puts their factors in the same table as the holidays' (the handler reads one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.settings import CalendarSettings
from training.normal_days import same_weekday_reference
from training.windows import SEASON, FloatArray

NEIGHBOUR_LAGS = tuple(weeks * SEASON for weeks in (-4, -3, -2, -1, 1, 2, 3, 4))
"""A holiday's neighbours are compared with the mean of the same weekday up to 4 weeks either side:
a median of a few sparse days is 0, half a day or a whole one depending on how many are known."""
NEIGHBOUR_DRAWS = 20_000
"""Random draws of normal days that a group of a holiday's neighbours is compared with."""
TAIL_SHARE = 0.1
"""The share of those draws farthest from a normal day whose tail is extrapolated (`_chance`)."""


def _neighbours(names: dict[date, str], before: int, after: int) -> dict[date, tuple[str, int]]:
    """{day: (holiday name, offset)} for the days within `before` days before or `after` days after a
    public holiday that are not holidays themselves; a day near two holidays belongs to the nearer
    (after one rather than before the other at the same distance)."""
    nearest: dict[date, tuple[tuple[int, int], str, int]] = {}
    for day, name in names.items():
        for offset in [*range(-before, 0), *range(1, after + 1)]:
            neighbour = day + timedelta(days=offset)
            rank = (abs(offset), -offset)
            if neighbour not in names and (neighbour not in nearest or rank < nearest[neighbour][0]):
                nearest[neighbour] = (rank, name, offset)
    return {day: (name, offset) for day, (_, name, offset) in sorted(nearest.items())}


def neighbour_factors(
    values: FloatArray,
    days: pd.DatetimeIndex,
    names: dict[date, str],
    marked: np.ndarray,
    settings: CalendarSettings,
    tested: frozenset[str] | None = None,
    file_shape: Mapping[str, float] | None = None,
) -> tuple[dict[str, float], frozenset[str], dict[str, float]]:
    """{ISO day: factor} for the holidays' neighbours (`_neighbours`) in groups that differ from normal
    days, the groups kept and each kept day's ratio over its group's (a file's shape). A group is one
    holiday's days before it, or its days after it; it is kept when its ratio to the normal-day
    reference (`values`: the series already divided by the other terms' factors) is so far from normal
    days' that runs of normal days drawn at random reach as far less often than `neighbour_alpha`,
    Bonferroni over the groups seen (`_chance`). Given the groups a file's categories `tested` together
    (`training.calendar.FileCalendar`), those are kept untested and each day is shrunk toward its
    group's ratio times `file_shape` of that day (1 where it has none), not toward the flat ratio.
    Factors are relative to a normal day's ratio. None on series with more than
    `neighbour_max_zero_share` of days without a sale: against a reference of mostly empty days, a
    ratio is noise."""
    if float(np.mean(values == 0)) > settings.neighbour_max_zero_share:
        return {}, frozenset(), {}
    until = max(names, default=None)
    neighbours = _neighbours(names, settings.holiday_days_before, settings.holiday_days_after)
    neighbours = {day: place for day, place in neighbours.items() if until is not None and day <= until}
    near = np.array([day.date() in neighbours for day in days])
    if not near.any():
        return {}, frozenset(), {}
    reference = same_weekday_reference(values, marked | near, NEIGHBOUR_LAGS, median=False)
    usable = np.isfinite(reference) & (reference > 0)
    normal = usable & ~marked & ~near
    if normal.sum() < 2:
        return {}, frozenset(), {}
    normal_ratio = float(values[normal].sum() / reference[normal].sum())
    places = [neighbours.get(day.date()) for day in days]
    day_groups = np.array([f"{p[0]}|{p[1] > 0}" if p else "" for p in places])
    offsets = np.array([f"{p[0]}|{p[1]}" if p else "" for p in places])
    seen = sorted(set(day_groups[near & usable]))
    if not seen:
        return {}, frozenset(), {}
    kept: dict[str, float] = {}
    shape: dict[str, float] = {}
    groups_kept: set[str] = set()
    for group in seen:
        own = near & usable & (day_groups == group)
        span = settings.holiday_days_after if group.endswith("True") else settings.holiday_days_before
        if tested is not None:
            if group not in tested:
                continue
        elif _chance(own, span, values, reference, normal) >= settings.neighbour_alpha / len(seen):
            continue
        groups_kept.add(str(group))
        pooled = float(values[own].sum() / reference[own].sum()) / normal_ratio
        for place in sorted(set(offsets[own])):
            day_own = own & (offsets == place)
            seen_days = int(day_own.sum())
            weight = seen_days / (seen_days + settings.holiday_shrink)
            day_ratio = float(values[day_own].sum() / reference[day_own].sum()) / normal_ratio
            shape[str(place)] = day_ratio / pooled if pooled > 0 else 1.0
            target = pooled * (file_shape or {}).get(place, 1.0)
            kept[place] = max(target + weight * (day_ratio - target), 0.0)
    table = {
        day.isoformat(): round(kept[f"{name}|{offset}"], 6)
        for day, (name, offset) in neighbours.items()
        if f"{name}|{offset}" in kept
    }
    return table, frozenset(groups_kept), shape


def _chance(
    own: np.ndarray, span: int, values: FloatArray, reference: FloatArray, normal: np.ndarray
) -> float:
    """How likely as many runs of `span` consecutive normal days, drawn at random (`NEIGHBOUR_DRAWS`
    times, a fixed seed), sell a ratio (Σ sales / Σ reference) at least as far from normal days' as
    the days of `own` (one group, `span` days a time) do, in logs, on the same side (two-sided: twice
    that). Sales come in runs (a slow level, a week of large orders) with a heavy tail, which neither
    independent days nor a normal approximation show; a ratio of sums is not thrown by a day with a
    tiny reference. Two years hold a few hundred runs, too few to rank a single occurrence among them
    at a Bonferroni level, so beyond the draws' 90th percentile the tail is extrapolated as an
    exponential (peaks over a threshold) fitted to the draws beyond it."""
    centre = float(values[normal].sum() / reference[normal].sum())
    kernel = np.ones(span)
    whole = np.convolve(normal.astype(float), kernel, mode="valid") == span
    if not whole.any() or centre <= 0:
        return 1.0
    sold = np.convolve(np.where(normal, values, 0.0), kernel, mode="valid")[whole]
    expected = np.convolve(np.where(normal, reference, 0.0), kernel, mode="valid")[whole]
    times = max(round(int(own.sum()) / span), 1)
    picks = np.random.default_rng(0).integers(0, len(sold), size=(NEIGHBOUR_DRAWS, times))
    draws = _log_ratio(sold[picks].sum(axis=1) / np.maximum(expected[picks].sum(axis=1), 1e-12), centre)
    observed = float(_log_ratio(np.array([values[own].sum() / reference[own].sum()]), centre)[0])
    if observed < 0:  # the tail on the observed side: outages are not bursts
        draws, observed = -draws, -observed
    threshold = float(np.quantile(draws, 1.0 - TAIL_SHARE))
    if observed <= threshold:
        return min(2.0 * (int(np.sum(draws >= observed)) + 1) / (NEIGHBOUR_DRAWS + 1), 1.0)
    scale = max(float(np.mean(draws[draws > threshold] - threshold)), 1e-12)
    return 2.0 * TAIL_SHARE * float(np.exp(-(observed - threshold) / scale))


def _log_ratio(ratios: FloatArray, centre: float) -> FloatArray:
    """log(ratio / centre), a ratio of 0 counted as a thousandth of the centre."""
    return np.asarray(np.log(np.maximum(ratios, 1e-3 * centre) / centre), dtype=np.float64)
