"""Rolling-origin folds and the windows of a fold's fit.

Fold k of K covers `fold_days` target days; its cut-off is its first target day. Folds tile the
most recent `K × fold_days` days, oldest first, so every method is scored on the same days. A fold's
model sees only days before its cut-off: its windows are split chronologically into train and
validation (early stopping) by the configured fractions, normalized on the training days, and it
forecasts each target day from the N true days before it, the way the service is used. Its networks,
when they pool categories, are trained once per fold on every category's windows before the cut-off
(`training.shared.train_networks_before`), as a run trains them once for every category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import SalescastError
from core.settings import Settings
from training.calendar import FileCalendar, adjust, fit_calendar, series_factors
from training.windows import SEASON, CategoryWindows, FloatArray, IndexArray, windows_before


class BenchDataError(SalescastError, ValueError):
    """A category's history is too short for the requested folds."""


@dataclass(frozen=True)
class Fold:
    """One fold: its number (0 = oldest), the cut-off position and the target positions."""

    number: int
    cutoff: int
    targets: IndexArray


def make_folds(n_days: int, folds: int, fold_days: int, min_train_days: int, category: str) -> list[Fold]:
    """`folds` consecutive blocks of `fold_days` targets ending on the last day; checks the history."""
    first_cutoff = n_days - folds * fold_days
    if first_cutoff < min_train_days:
        raise BenchDataError(
            f"category {category!r} has {n_days} days; {folds} folds of {fold_days} days need at least "
            f"{min_train_days + folds * fold_days} (use fewer --folds or a shorter bench.fold_days)"
        )
    return [
        Fold(
            number=k,
            cutoff=first_cutoff + k * fold_days,
            targets=np.arange(
                first_cutoff + k * fold_days, first_cutoff + (k + 1) * fold_days, dtype=np.int64
            ),
        )
        for k in range(folds)
    ]


def min_train_days(window_size: int) -> int:
    """Fewest days before the first cut-off: a few weeks of windows for train and validation."""
    return window_size + 4 * SEASON


def fold_windows(
    category: str, values: FloatArray, dates: pd.DatetimeIndex, cutoff: int, settings: Settings
) -> CategoryWindows:
    """Train/validation windows from the days before `cutoff` (the fold's targets are scored
    separately), split and normalized as a served fit is."""
    return windows_before(category, values, dates, cutoff, settings.window.size, settings.split)


def fold_calendar(
    category: str,
    values: FloatArray,
    dates: pd.DatetimeIndex,
    cutoff: int,
    settings: Settings,
    file_terms: FileCalendar | None,
    extra_days: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """The series divided by the calendar factors a run on its days before `cutoff` learns (the days
    before that run's test segment, `training.run_inputs.calendar_end`), and each day's factor with
    `extra_days` more beyond the last; `file_terms`: what the file shows together (None: this series
    alone)."""
    from training.run_inputs import calendar_end

    end = calendar_end(pd.Series(values[:cutoff], index=dates[:cutoff], name=category), settings)
    block = fit_calendar(values, dates, end, settings.calendar, settings.data.holiday_country, file_terms)
    factors = series_factors(block, dates, extra_days)
    return adjust(values, factors, settings.calendar.floor), factors
