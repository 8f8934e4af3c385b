"""Calendar factors learned from a category's training days, written to the manifest's `calendar`.

Sales are divided by a factor per day (public holiday × time of year × month's end) before anything
is fitted, and forecasts multiplied back; the handler does the same from a request's `last_date`
(`handlers.calendar_terms`, which also computes every factor here, so training and serving agree).

Each term is estimated against a "normal day" reference — the median of the same weekday one and two
weeks either side (holidays left out) — and kept only where the data supports it:
- holidays: Σ sales / Σ reference over every public holiday (of `data.holiday_country`), kept when
  the per-day ratios differ from 1 by `min_t` standard errors; each holiday name then gets its own
  ratio shrunk toward that pooled one by `n / (n + holiday_shrink)` (n: times it was seen); a
  holiday the series was closed on every time it was seen keeps its own ratio, test or not, and so
  does one the whole file (the total of its categories) was closed on, even seen once (`file_calendar`);
- a holiday's neighbours (`holiday_days_before` / `holiday_days_after` days of it: Christmas Eve,
  Black Friday as Thanksgiving + 1): each holiday's days before and its days after are a group, kept
  when a file's categories together sell differently on it than random runs of normal days do
  (`neighbour_alpha`, Bonferroni over the groups; `file_calendar`); each category's days then get
  their own ratios shrunk as holidays are, toward its group's ratio times the total's shape of the
  group's days (Black Friday over Cyber Monday, seen with less noise on the total). They go into the
  same table as the holidays (the handler reads one table; `training.holiday_neighbours`);
- yearly (from `yearly_min_days` of history): the 7-day mean over the 365-day mean, by day of the
  year, averaged over the years and smoothed, then shrunk toward 1 by the share of its spread the years
  agree on (none below `yearly_min_agreement`); the Christmas run-up and a summer dip live here (a
  closed holiday counts as its weekday's normal day, so its 0 does not dent the week around it);
- month's end: the same ratio over the last `month_end_days` days of every month, kept when it
  differs from 1 by `min_t` standard errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import holidays
import numpy as np
import pandas as pd

from core.settings import CalendarSettings
from handlers.calendar_terms import YEAR_DAYS, day_factor, year_position
from training.holiday_neighbours import neighbour_factors
from training.normal_days import ratio_test, same_weekday_reference
from training.windows import SEASON, FloatArray

YEAR = 365


@dataclass(frozen=True)
class FileCalendar:
    """What the categories of a file show together, tested once on their total (`file_calendar`),
    which each category's terms then take as given: the groups of a holiday's neighbours they sell
    differently on, and the holidays the whole shop was closed on (name → the total's ratio to a
    normal day). Black Friday lifts a whole shop, while a burst of large orders after a holiday in
    one category is diluted in the total; one category selling nothing on a day is an outage now and
    then, a whole shop selling nothing on a holiday is closed, seen once or every year."""

    groups: frozenset[str] = frozenset()
    closed: Mapping[str, float] = field(default_factory=dict)
    shape: Mapping[str, float] = field(default_factory=dict)
    """Each day of a kept group (`"{holiday}|{offset}"`) over its group's ratio, on the total: which of
    Black Friday's days sells most is the same in every category, and the total shows it with less
    noise than one category's single sighting."""


def fit_calendar(
    values: FloatArray,
    dates: pd.DatetimeIndex,
    end: int,
    settings: CalendarSettings,
    country: str,
    file: FileCalendar | None = None,
) -> dict[str, Any] | None:
    """The `calendar` block learned from days `[0, end)` of a daily series, or None when no term is
    on or none found an effect (the version is then trained and served without calendar terms).
    `file`: what the file's categories show together (`file_calendar`); None tests the holiday
    neighbours and closures on this series alone."""
    return _fit_calendar(values, dates, end, settings, country, file)[0]


def file_calendar(
    sales: Mapping[str, pd.Series], before: pd.Timestamp, settings: CalendarSettings, country: str
) -> FileCalendar:
    """What the categories of a file show together (`FileCalendar`), tested on their total over the
    days before `before`."""
    if not sales:
        return FileCalendar()
    total = pd.concat(list(sales.values()), axis=1).fillna(0.0).sum(axis=1).sort_index()
    total = total.asfreq("D", fill_value=0.0)
    end = int(pd.DatetimeIndex(total.index).searchsorted(before))
    values = total.to_numpy(dtype=np.float64)
    return _fit_calendar(values, pd.DatetimeIndex(total.index), end, settings, country, None, 1)[1]


def _fit_calendar(
    values: FloatArray,
    dates: pd.DatetimeIndex,
    end: int,
    settings: CalendarSettings,
    country: str,
    file: FileCalendar | None,
    closed_sightings: int = 2,
) -> tuple[dict[str, Any] | None, FileCalendar]:
    """`fit_calendar` and what this series shows on its own (the groups it kept, the holidays it was
    closed on at least `closed_sightings` times: a file's total needs one)."""
    if not settings.any or end < 4 * SEASON:
        return None, FileCalendar()
    train, days = values[:end], dates[:end]
    last_year = days[-1].year + settings.holiday_years_ahead
    names = _holiday_names(country, days[0].year, last_year)
    marked = np.array([day.date() in names for day in days])
    closed: dict[str, float] = {}
    holiday_table: dict[str, float] = {}
    if settings.holidays:
        day_names = np.array([names.get(day.date(), "") for day in days])
        # a normal day: the same weekday 1 and 2 weeks either side
        reference = same_weekday_reference(train, marked)
        closed = _closed_names(train, reference, marked, day_names, settings, closed_sightings)
        if file is not None:
            closed = _with_file_closures(closed, file.closed, train, reference, marked, day_names)
        holiday_table = _holiday_factors(train, reference, marked, day_names, names, closed, settings)
    block: dict[str, Any] = {
        "country": country,
        "holidays": holiday_table,
        "holidays_until": date(last_year, 12, 31).isoformat(),
        "yearly": None,
        "month_end": None,
        "floor": settings.floor,
    }
    if settings.yearly and end >= settings.yearly_min_days:
        factors = series_factors(block, days)
        block["yearly"] = _yearly_factors(
            train / np.maximum(factors, settings.floor), days, settings, factors == 0.0
        )
    if settings.month_end:
        adjusted = train / _factors_of(block, days, settings.floor)
        block["month_end"] = _month_end_factor(adjusted, days, marked, settings)
    kept: frozenset[str] = frozenset()
    shape: dict[str, float] = {}
    if settings.holidays:  # what the other terms leave around the holidays (the run-up is the year's)
        adjusted = train / _factors_of(block, days, settings.floor)
        table, kept, shape = neighbour_factors(
            adjusted,
            days,
            names,
            marked,
            settings,
            None if file is None else file.groups,
            {} if file is None else file.shape,
        )
        block["holidays"].update(table)
    shown = FileCalendar(kept, closed, shape)
    if not block["holidays"] and block["yearly"] is None and block["month_end"] is None:
        return None, shown
    return block, shown


def series_factors(block: dict[str, Any] | None, dates: pd.DatetimeIndex, extra_days: int = 0) -> FloatArray:
    """The factor of every day of `dates` and of `extra_days` days after it (1 without a block)."""
    count = len(dates) + extra_days
    if block is None:
        return np.ones(count, dtype=np.float64)
    span = pd.date_range(dates[0], periods=count, freq="D")
    return np.array([day_factor(block, day.date()) for day in span], dtype=np.float64)


def adjust(values: FloatArray, factors: FloatArray, floor: float) -> FloatArray:
    """Sales divided by their days' factors (never by less than `floor`): what the model learns from."""
    return np.asarray(values / np.maximum(factors[: len(values)], floor), dtype=np.float64)


def _factors_of(block: dict[str, Any], days: pd.DatetimeIndex, floor: float) -> FloatArray:
    return np.maximum(series_factors(block, days), floor)


def _holiday_names(country: str, first_year: int, last_year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    return {day: str(name) for day, name in sorted(calendar.items())}


def _holiday_factors(
    values: FloatArray,
    reference: FloatArray,
    marked: np.ndarray,
    day_names: np.ndarray,
    names: dict[date, str],
    closed: Mapping[str, float],
    settings: CalendarSettings,
) -> dict[str, float]:
    """{ISO day: factor} for every holiday of `names` up to the table's end; {} when holidays show no
    effect (but for the `closed` ones, {name: ratio}: only those days are then listed)."""
    pooled, t, seen = ratio_test(values[marked], reference[marked])
    if abs(t) < settings.min_t:
        return {day.isoformat(): closed[name] for day, name in names.items() if name in closed}
    pooled = 1.0 + seen / (seen + settings.holiday_shrink) * (pooled - 1.0)
    by_name: dict[str, float] = {}
    for name in sorted(set(names.values())):
        own = marked & (day_names == name)
        ratio, _, count = ratio_test(values[own], reference[own])
        weight = count / (count + settings.holiday_shrink) if count else 0.0
        by_name[name] = max(pooled + weight * (ratio - pooled), 0.0)
    by_name.update(closed)
    return {day.isoformat(): round(by_name[name], 6) for day, name in names.items()}


def _closed_names(
    values: FloatArray,
    reference: FloatArray,
    marked: np.ndarray,
    day_names: np.ndarray,
    settings: CalendarSettings,
    sightings: int,
) -> dict[str, float]:
    """{holiday name: its ratio} for the holidays the series sold next to nothing on (≤ `closed_share`
    of a normal day) every one of the ≥ `sightings` times it was seen, where normal days do that so
    rarely that chance explains it below `closed_alpha` (Bonferroni over the names): a shop closed on
    Christmas every year is closed on the next one, too few days for the pooled test to see, and a
    large order never makes a zero."""
    usable = np.isfinite(reference) & (reference > 0)
    low = np.zeros(len(values), dtype=bool)
    low[usable] = values[usable] <= settings.closed_share * reference[usable]
    normal = usable & ~marked
    if not normal.any():
        return {}
    chance = max(float(low[normal].mean()), 1.0 / int(normal.sum()))
    listed = sorted(set(day_names[marked]))
    closed = {}
    for name in listed:
        own = marked & usable & (day_names == name)
        count = int(own.sum())
        if count >= sightings and low[own].all() and chance**count < settings.closed_alpha / len(listed):
            closed[str(name)] = round(float(values[own].sum() / reference[own].sum()), 6)
    return closed


def _with_file_closures(
    closed: Mapping[str, float],
    file_closed: Mapping[str, float],
    values: FloatArray,
    reference: FloatArray,
    marked: np.ndarray,
    day_names: np.ndarray,
) -> dict[str, float]:
    """`closed` and the holidays the whole file was closed on, each at this series' own ratio on them
    (the file's where the series has no normal day to compare them with, e.g. it started later)."""
    usable = np.isfinite(reference) & (reference > 0)
    merged = dict(closed)
    for name, ratio in file_closed.items():
        own = marked & usable & (day_names == name)
        own_ratio = float(values[own].sum() / reference[own].sum()) if own.any() else ratio
        merged.setdefault(name, round(own_ratio, 6))
    return merged


def _yearly_factors(
    values: FloatArray, days: pd.DatetimeIndex, settings: CalendarSettings, closed: np.ndarray
) -> list[float] | None:
    """366 factors by day of a leap year — the 7-day mean over the 365-day mean, averaged over the
    years and smoothed — shrunk toward 1 by how well the years agree (`_year_agreement`); None when
    they agree on less than `yearly_min_agreement` of it (level shifts and bursts, not a season).
    A `closed` day (a holiday factor of 0) counts as its weekday's normal sales (the same weekday a
    week or two either side): its 0 would pull the season down on the week around it (the end of the
    Christmas run-up among them), and leaving it out would leave its weekday out of that week."""
    if closed.any():
        values = np.where(closed, same_weekday_reference(values, closed), values)
    series = pd.Series(values, index=days)
    week = series.rolling(SEASON, center=True, min_periods=SEASON).mean()
    year = series.rolling(YEAR, center=True, min_periods=YEAR // 2).mean()
    ratio = (week / year).to_numpy()
    positions = np.array([year_position(day.date()) for day in days])
    sums, counts = np.zeros(YEAR_DAYS), np.zeros(YEAR_DAYS)
    usable = np.isfinite(ratio)
    np.add.at(sums, positions[usable], ratio[usable])
    np.add.at(counts, positions[usable], 1)
    profile = np.where(counts >= 2, sums / np.maximum(counts, 1), 1.0)
    half = settings.yearly_smooth_days // 2
    padded = np.concatenate([profile[-half:], profile, profile[:half]]) if half else profile
    smooth = np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
    weight = _year_agreement(ratio, positions, settings.yearly_smooth_days)
    if weight == 0.0 or weight < settings.yearly_min_agreement:
        return None
    shrunk = 1.0 + weight * (smooth / smooth.mean() - 1.0)  # still mean 1
    return [round(float(value), 6) for value in shrunk]


def _year_agreement(ratio: FloatArray, positions: np.ndarray, smooth_days: int) -> float:
    """The share of the profile's spread that the years agree on: 1 − (variance of a day's mean
    that its years' disagreement explains) / (variance of the day means), at the served smoothing,
    in logs, clipped to [0, 1] (a James–Stein weight). A season repeats from year to year; a level
    shift or a burst of large orders lands on a different day of the year each time."""
    raw = pd.Series(np.log(np.clip(ratio, 1e-3, None)))
    logs = raw.rolling(smooth_days, center=True, min_periods=1).mean().to_numpy()
    usable = np.isfinite(logs)
    grouped = pd.Series(logs[usable]).groupby(positions[usable])
    count, mean, spread = grouped.count(), grouped.mean(), grouped.var(ddof=1)
    seen = count >= 2
    if not seen.any():
        return 0.0
    noise = float((spread[seen] / count[seen]).mean())
    signal = float(((mean[seen] - mean[seen].mean()) ** 2).mean())
    return float(np.clip(1.0 - noise / signal, 0.0, 1.0)) if signal > 0 else 0.0


def _month_end_factor(
    values: FloatArray, days: pd.DatetimeIndex, marked: np.ndarray, settings: CalendarSettings
) -> dict[str, Any] | None:
    """{days, factor} of the months' last days, or None when they sell like other days."""
    month_end = np.asarray(days.day > days.days_in_month - settings.month_end_days) & ~marked
    reference = same_weekday_reference(values, marked | month_end)
    ratio, t, _ = ratio_test(values[month_end], reference[month_end])
    if abs(t) < settings.min_t:
        return None
    return {"days": settings.month_end_days, "factor": round(ratio, 6)}


class SeriesCalendar(NamedTuple):
    """A category's calendar terms in a training run: the manifest block (None: none), the series
    as sold, divided by its days' factors (what every fit learns from), and each day's factor."""

    block: dict[str, Any] | None
    sold: pd.Series
    adjusted: pd.Series
    factors: FloatArray


def series_calendar(
    series: pd.Series,
    end: int,
    settings: CalendarSettings,
    country: str,
    file: FileCalendar | None = None,
) -> SeriesCalendar:
    """The calendar terms learned from the first `end` days of `series` (the days before its test
    segment, so the held-out scores stay held out), applied to all of it; `file` as `fit_calendar`."""
    values = series.to_numpy(dtype=np.float64)
    dates = pd.DatetimeIndex(series.index)
    block = fit_calendar(values, dates, end, settings, country, file) if len(values) else None
    factors = series_factors(block, dates) if len(values) else np.ones(0)
    adjusted = pd.Series(adjust(values, factors, settings.floor), index=series.index, name=series.name)
    return SeriesCalendar(block, series, adjusted, factors)
