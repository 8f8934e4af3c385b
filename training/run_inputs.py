"""What a category of a run trains from: its windows (the full model's, or a short history's with the
fallback its manifest records) and its calendar terms, learned from the days before its test segment
with what its whole file shows together (holiday neighbours, closures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from core.contracts.manifest import Fallback
from core.settings import Settings
from training.calendar import FileCalendar, SeriesCalendar, file_calendar, series_calendar
from training.windows import (
    CategoryWindows,
    FloatArray,
    InsufficientHistoryError,
    make_category_windows,
    make_short_windows,
    minimum_days,
)


def calendar_of(series: pd.Series, settings: Settings, file: FileCalendar | None = None) -> SeriesCalendar:
    """A category's calendar terms, learned from its days before the test segment (none for a
    history too short to train); `file`: what its file shows together (`file_calendar_of`, None:
    tested on this series alone)."""
    end = calendar_end(series, settings)
    return series_calendar(series, end, settings.calendar, settings.data.holiday_country, file)


def file_calendar_of(sales: Mapping[str, pd.Series], settings: Settings) -> FileCalendar:
    """What the categories of a file show together (`training.calendar.file_calendar`: holiday
    neighbours, closures), from the days before the earliest of their test segments."""
    starts = [series.index[end] for series in sales.values() if (end := calendar_end(series, settings)) > 0]
    if not starts:
        return FileCalendar()
    return file_calendar(sales, min(starts), settings.calendar, settings.data.holiday_country)


def calendar_end(series: pd.Series, settings: Settings) -> int:
    """How many of the series' first days its calendar terms learn from: those before the test
    segment (0 for a history too short to train). So the served model's validation tail, which its
    intervals are calibrated on, lies mostly after them, as the days it will forecast will."""
    try:
        windows = category_windows(series, settings)
    except InsufficientHistoryError:
        return 0
    return int(windows.test[0]) - windows.first_day


class CalendarUse(NamedTuple):
    """A version's calendar terms in its run: the manifest block, the windows of the series as sold
    (what the scores are in) and each day's factor over those windows' days."""

    block: dict[str, Any]
    sold: CategoryWindows
    factors: FloatArray

    @classmethod
    def of(
        cls, calendar: SeriesCalendar, windows: CategoryWindows, sold: CategoryWindows
    ) -> CalendarUse | None:
        """None without calendar terms (the windows are then the series as sold)."""
        if calendar.block is None:
            return None
        factors = np.concatenate([np.ones(windows.first_day), calendar.factors])
        return cls(calendar.block, sold, factors)


def category_windows(series: pd.Series, settings: Settings) -> CategoryWindows:
    """The windows a category trains on: the full model's when it has the days the networks need,
    else a short history's (`make_short_windows`: a classical-only version, `fallback_of`), which
    raises `ShortHistoryError` below `training.min_history_days`."""
    size, split = settings.window.size, settings.split
    try:
        return make_category_windows(series, size, split)
    except InsufficientHistoryError:
        return make_short_windows(series, size, split, settings.training.min_history_days)


TrainedParts = Literal["networks", "classical", "nothing"]
"""What a category's version trains: the full model, a short history's classical part alone, or
nothing (too short even for that: the category fails)."""


def trained_parts(series: pd.Series | None, settings: Settings) -> TrainedParts:
    """What a category trains (`TrainedParts`), from the days its windows need: the networks' as
    `make_category_windows` (what the shared networks pool) asks, a short history's as
    `make_short_windows` (`category_windows`) does."""
    if series is None:
        return "nothing"
    try:
        make_category_windows(series, settings.window.size, settings.split)
    except InsufficientHistoryError:
        pass
    else:
        return "networks"
    try:
        make_short_windows(series, settings.window.size, settings.split, settings.training.min_history_days)
    except InsufficientHistoryError:
        return "nothing"
    return "classical"


def fallback_of(windows: CategoryWindows, serving: CategoryWindows, settings: Settings) -> Fallback | None:
    """What a version of `windows` (served: `serving`) serves instead of the full model, and why
    (None: the full model)."""
    if not windows.short_history:
        return None
    days = len(windows.values) - windows.first_day
    needed = minimum_days(windows.window_size, settings.split)
    calibrated = len(serving.val) + (len(serving.train) if settings.forecast.interval_history else 0)
    return Fallback(
        kind="classical_only",
        reason=f"{days} days of history; the networks need {needed} (window {windows.window_size} + split): "
        "the weekly-profile forecast serves alone, its level from the days since the first sale, "
        f"its intervals calibrated on only {calibrated} days (wide, and less sure than a full model's)",
    )
