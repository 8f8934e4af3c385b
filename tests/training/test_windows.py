"""Windows: shapes, targets, chronological split without leakage, stats from the training segment only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import SalescastError
from core.settings import SplitSettings
from tests.training.synthetic import weekly_series
from training.windows import (
    InsufficientHistoryError,
    fit_norm_stats,
    make_category_windows,
    minimum_days,
    segment_sizes,
    window_inputs,
)

SPLIT = SplitSettings(train=0.7, val=0.15)


def test_window_inputs_are_the_n_days_before_each_target() -> None:
    values = np.arange(10, dtype=np.float64)
    inputs = window_inputs(values, np.array([3, 7]), 3)
    np.testing.assert_array_equal(inputs, [[0, 1, 2], [4, 5, 6]])


def test_window_inputs_refuse_a_target_without_enough_history() -> None:
    with pytest.raises(ValueError, match="fewer than 3 days"):
        window_inputs(np.arange(10, dtype=np.float64), np.array([2]), 3)


def test_shapes_and_targets() -> None:
    series = weekly_series(120)
    windows = make_category_windows(series, 14, SPLIT)
    n_windows = 120 - 14
    assert len(windows.train) + len(windows.val) + len(windows.test) == n_windows
    for segment in ("train", "val", "test"):
        inputs, targets = windows.inputs(segment), windows.targets(segment)
        assert inputs.shape == (len(targets), 14)
        for row, position in zip(inputs, windows.target_index(segment), strict=True):
            np.testing.assert_array_equal(row, series.to_numpy()[position - 14 : position])
        np.testing.assert_array_equal(targets, series.to_numpy()[windows.target_index(segment)])
    assert windows.target_dates("test")[-1] == series.index[-1]


def test_split_is_chronological_contiguous_and_test_is_most_recent() -> None:
    windows = make_category_windows(weekly_series(200), 14, SPLIT)
    assert windows.train[0] == 14
    assert windows.val[0] == windows.train[-1] + 1
    assert windows.test[0] == windows.val[-1] + 1
    assert windows.test[-1] == 199
    for segment in ("train", "val", "test"):
        assert np.all(np.diff(windows.target_index(segment)) == 1)
    assert abs(len(windows.test) - round(0.15 * (200 - 14))) <= 1


def test_no_window_reads_a_later_segments_targets() -> None:
    windows = make_category_windows(weekly_series(200), 14, SPLIT)
    first_val, first_test = windows.val[0], windows.test[0]
    # every input day of a training window precedes the first validation target, and so on
    assert windows.train[-1] - 1 < first_val
    assert (windows.train[:, None] - np.arange(1, 15)).max() < first_val
    assert (windows.val[:, None] - np.arange(1, 15)).max() < first_test
    assert windows.training_days.shape[0] == first_val


def test_stats_equal_the_training_segment() -> None:
    series = weekly_series(200)
    windows = make_category_windows(series, 14, SPLIT)
    training_days = series.to_numpy()[: windows.train[-1] + 1]
    assert windows.stats.mean == pytest.approx(float(np.mean(training_days)))
    assert windows.stats.std == pytest.approx(float(np.std(training_days)))
    assert windows.train_end == series.index[windows.train[-1]]
    assert windows.train_start == series.index[0]
    everything = series.to_numpy()
    assert windows.stats.mean != pytest.approx(float(np.mean(everything)))


def test_flat_training_segment_gets_std_one() -> None:
    stats = fit_norm_stats(np.full(30, 5.0))
    assert (stats.mean, stats.std) == (5.0, 1.0)
    np.testing.assert_array_equal(stats.normalize(np.array([5.0, 6.0])), [0.0, 1.0])


def test_normalize_round_trip() -> None:
    stats = fit_norm_stats(np.array([1.0, 2.0, 3.0, 10.0]))
    values = np.array([0.0, 4.0, 12.5])
    np.testing.assert_allclose(stats.denormalize(stats.normalize(values)), values)


def test_too_few_days_names_category_days_and_minimum() -> None:
    needed = minimum_days(14, SPLIT)
    series = weekly_series(needed - 1, name="Garden & Patio")
    with pytest.raises(InsufficientHistoryError) as caught:
        make_category_windows(series, 14, SPLIT)
    message = str(caught.value)
    assert "'Garden & Patio'" in message
    assert f"{needed - 1} days" in message
    assert f"at least {needed}" in message
    assert isinstance(caught.value, SalescastError)


def test_minimum_days_is_enough_for_every_segment() -> None:
    for window_size in (2, 7, 14, 30):
        needed = minimum_days(window_size, SPLIT)
        windows = make_category_windows(weekly_series(needed), window_size, SPLIT)
        assert min(len(windows.train), len(windows.val), len(windows.test)) >= 1
        assert len(windows.training_days) > 7


def test_segment_sizes_follow_the_fractions() -> None:
    sizes = segment_sizes(100, SPLIT)
    assert sizes is not None
    assert (sizes.train, sizes.val, sizes.test) == (70, 15, 15)
    assert segment_sizes(2, SPLIT) is None


def test_dates_come_from_the_series_index() -> None:
    series = weekly_series(60, start="2023-03-01")
    windows = make_category_windows(series, 7, SPLIT)
    assert windows.target_dates("train")[0] == pd.Timestamp("2023-03-08")
