"""Sliding windows of N days → the next day, split chronologically, normalized on training days only.

A window is identified by the position of its target day in the daily series: inputs are the N days
before it. Segments are contiguous runs of target positions (train, then validation, then test = the
most recent days), so no window of an earlier segment ever sees a later segment's targets, and the
baselines and metrics of every segment are computed on exactly the same target days as the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import SalescastError
from core.settings import SplitSettings

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]

SEASON = 7
"""Weekly period of the seasonal-naive baseline and of the MASE/RMSSE scale."""

SEGMENTS = ("train", "val", "test")


class InsufficientHistoryError(SalescastError, ValueError):
    """A category has too few days to make one window in every segment."""


class ShortHistoryError(InsufficientHistoryError):
    """A category has too few days even for the classical-only fallback (`training.min_history_days`)."""


@dataclass(frozen=True)
class NormStats:
    """Mean and std of the training segment; `std` is never 0 (a flat segment stores 1.0)."""

    mean: float
    std: float

    def normalize(self, values: FloatArray) -> FloatArray:
        return (values - self.mean) / self.std

    def denormalize(self, values: FloatArray) -> FloatArray:
        return values * self.std + self.mean


@dataclass(frozen=True)
class SegmentSizes:
    """Number of windows in each segment (all at least 1)."""

    train: int
    val: int
    test: int


@dataclass(frozen=True)
class CategoryWindows:
    """One category's daily series, the target positions of each segment and the training stats.

    `first_day` > 0 marks a short history (`make_short_windows`): the series is preceded by
    `first_day` zeros, the days before the category's first sale, so every window has the served
    window size; normalization and the scores see only the days from `first_day` on."""

    category: str
    window_size: int
    values: FloatArray
    dates: pd.DatetimeIndex
    train: IndexArray
    val: IndexArray
    test: IndexArray
    stats: NormStats
    first_day: int = 0

    @property
    def short_history(self) -> bool:
        """Whether the windows reach back before the category's first day (padded with zeros)."""
        return self.first_day > 0

    def targets(self, segment: str) -> FloatArray:
        """Next-day values (original units) of `segment`'s windows."""
        return self.values[self.target_index(segment)]

    def inputs(self, segment: str) -> FloatArray:
        """`[W, N]` windows (original units) of `segment`."""
        return window_inputs(self.values, self.target_index(segment), self.window_size)

    def target_dates(self, segment: str) -> pd.DatetimeIndex:
        return self.dates[self.target_index(segment)]

    def weekdays(self, index: IndexArray) -> IndexArray:
        """The weekday (Monday 0) of each day at `index` (a model's `weekday` input)."""
        return np.asarray(self.dates[index].weekday, dtype=np.int64)

    def target_index(self, segment: str) -> IndexArray:
        if segment not in SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}; expected one of {SEGMENTS}")
        index: IndexArray = getattr(self, segment)
        return index

    @property
    def training_days(self) -> FloatArray:
        """Every real day the training windows read or predict: the series from its first day (the
        padding before it left out) up to the last training target."""
        return self.values[self.first_day : int(self.train[-1]) + 1]

    @property
    def train_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.dates[self.first_day])

    @property
    def train_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.dates[int(self.train[-1])])

    def for_serving(self, split: SplitSettings) -> CategoryWindows:
        """The windows the served model learns from, split as every fold of the accuracy bench is:
        all target days but the most recent `val / (train + val)` share, which stays held out for
        early stopping and interval calibration. The test segment is learned from; the held-out
        metrics come from the evaluation fit on `train`."""
        return windows_before(
            self.category,
            self.values,
            self.dates,
            len(self.values),
            self.window_size,
            split,
            first_target=int(self.train[0]),
            first_day=self.first_day,
        )


def window_inputs(values: FloatArray, target_index: IndexArray, window_size: int) -> FloatArray:
    """`[W, N]` inputs: for each target position t, `values[t - N : t]`."""
    if len(target_index) and int(target_index.min()) < window_size:
        raise ValueError(
            f"target position {int(target_index.min())} has fewer than {window_size} days before it"
        )
    offsets = np.arange(-window_size, 0, dtype=np.int64)
    return np.asarray(values[target_index[:, None] + offsets[None, :]], dtype=np.float64)


def segment_sizes(n_windows: int, split: SplitSettings) -> SegmentSizes | None:
    """Split `n_windows` chronologically by the configured fractions; None if a segment would be empty."""
    n_test = max(1, round((1.0 - split.train - split.val) * n_windows))
    n_val = max(1, round(split.val * n_windows))
    n_train = n_windows - n_val - n_test
    if n_train < 1:
        return None
    return SegmentSizes(train=n_train, val=n_val, test=n_test)


def minimum_days(window_size: int, split: SplitSettings) -> int:
    """Fewest days that give every segment a window and a training segment longer than one week."""
    n_windows = 3
    while True:
        sizes = segment_sizes(n_windows, split)
        if sizes is not None and window_size + sizes.train > SEASON:
            return window_size + n_windows
        n_windows += 1


def fit_norm_stats(training_days: FloatArray) -> NormStats:
    """Mean and population std of the training days; a zero std becomes 1.0 so normalizing is safe."""
    mean = float(np.mean(training_days))
    std = float(np.std(training_days))
    return NormStats(mean=mean, std=std if std > 0.0 and np.isfinite(std) else 1.0)


def windows_before(
    category: str,
    values: FloatArray,
    dates: pd.DatetimeIndex,
    cutoff: int,
    window_size: int,
    split: SplitSettings,
    *,
    first_target: int | None = None,
    first_day: int = 0,
) -> CategoryWindows:
    """Train/validation windows of the days before position `cutoff`, split as a served fit is: the
    most recent `val / (train + val)` share validates (the test segment is unused and equals it);
    normalization fitted on the training days only. What the accuracy bench's folds and the pooled
    windows of the other categories are made of. Targets start at `first_target` (default: the
    first full window); a short history's padding ends at `first_day` (`CategoryWindows`)."""
    start = window_size if first_target is None else max(window_size, first_target)
    positions = np.arange(start, cutoff, dtype=np.int64)
    n_val = max(1, round(split.val / (split.train + split.val) * len(positions)))
    if len(positions) - n_val < 1:
        raise InsufficientHistoryError(
            f"category {category!r} has no training window before day {cutoff} (window {window_size})"
        )
    train, val = positions[:-n_val], positions[-n_val:]
    return CategoryWindows(
        category=category,
        window_size=window_size,
        values=values[:cutoff],
        dates=dates[:cutoff],
        train=train,
        val=val,
        test=val,
        stats=fit_norm_stats(values[first_day : int(train[-1]) + 1]),
        first_day=first_day,
    )


def pooled_windows(
    sales: Mapping[str, pd.Series],
    category: str,
    before: pd.Timestamp | None,
    window_size: int,
    split: SplitSettings,
) -> list[CategoryWindows]:
    """The other categories' train/validation windows of the days before `before` (every day when
    None): what the networks of `category` also learn from. Categories too short are left out."""
    pooled = []
    for name, series in sales.items():
        if name == category:
            continue
        days = series if before is None else series.loc[: before - pd.Timedelta(days=1)]
        values = days.to_numpy(dtype=np.float64)
        try:
            pooled.append(
                windows_before(name, values, pd.DatetimeIndex(days.index), len(values), window_size, split)
            )
        except InsufficientHistoryError:
            continue
    return pooled


def make_category_windows(series: pd.Series, window_size: int, split: SplitSettings) -> CategoryWindows:
    """Windows of one category's continuous daily series (as `load_daily_sales` returns it)."""
    category = str(series.name)
    values = series.to_numpy(dtype=np.float64)
    n_days = len(values)
    needed = minimum_days(window_size, split)
    sizes = segment_sizes(n_days - window_size, split) if n_days >= needed else None
    if sizes is None or window_size + sizes.train <= SEASON:
        raise InsufficientHistoryError(
            f"category {category!r} has {n_days} days of history; at least {needed} are needed "
            f"for window size {window_size} and split train={split.train}/val={split.val}"
        )
    first = window_size
    train = np.arange(first, first + sizes.train, dtype=np.int64)
    val = np.arange(int(train[-1]) + 1, int(train[-1]) + 1 + sizes.val, dtype=np.int64)
    test = np.arange(int(val[-1]) + 1, n_days, dtype=np.int64)
    dates = pd.DatetimeIndex(series.index)
    stats = fit_norm_stats(values[: int(train[-1]) + 1])
    return CategoryWindows(
        category=category,
        window_size=window_size,
        values=values,
        dates=dates,
        train=train,
        val=val,
        test=test,
        stats=stats,
    )


def make_short_windows(
    series: pd.Series, window_size: int, split: SplitSettings, min_history_days: int
) -> CategoryWindows:
    """Windows of a category too short for the networks (`make_category_windows` refused it) but with
    at least `min_history_days` days: what its classical-only fallback is fitted and scored on.

    The days before its first day enter every window as zeros: a launched product truly sold nothing
    then, and a client sends the same zeros (window size as for every category). The classical part
    reads a window only from its first sale on (`WeeklyProfileES.since_first_sale`), so the zeros do
    not drag its level. Targets start after a warm-up of about half the days (whole weeks, at least
    one day) so the first scored window already has a level to smooth; they are split into
    train/validation/test as usual. `ShortHistoryError` below `min_history_days`.
    """
    category = str(series.name)
    values = series.to_numpy(dtype=np.float64)
    n_days = len(values)
    if n_days < min_history_days:
        raise ShortHistoryError(
            f"category {category!r} has {n_days} days of history; at least {min_history_days} are needed "
            f"for a classical-only model (training.min_history_days) and "
            f"{minimum_days(window_size, split)} for the networks (window size {window_size} "
            f"and split train={split.train}/val={split.val})"
        )
    # at least one target per segment, however short the warm-up must then be
    warmup = max(1, min(SEASON * max(1, n_days // 2 // SEASON), n_days - len(SEGMENTS)))
    positions = np.arange(window_size + warmup, window_size + n_days, dtype=np.int64)
    sizes = segment_sizes(len(positions), split)
    if sizes is None:
        raise ShortHistoryError(
            f"category {category!r} has {n_days} days of history: too few to score a classical-only model"
        )
    train = positions[: sizes.train]
    val = positions[sizes.train : sizes.train + sizes.val]
    test = positions[sizes.train + sizes.val :]
    padded = np.concatenate([np.zeros(window_size), values])
    dates = pd.date_range(end=pd.Timestamp(series.index[-1]), periods=len(padded), freq="D")
    return CategoryWindows(
        category=category,
        window_size=window_size,
        values=padded,
        dates=dates,
        train=train,
        val=val,
        test=test,
        stats=fit_norm_stats(values[: int(train[-1]) + 1 - window_size]),
        first_day=window_size,
    )
