"""Fold layout and per-fold windows: the same target days for every method, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salescast.bench.rolling_origin import BenchDataError, fold_windows, make_folds, min_train_days
from tests.conftest import make_test_settings


def test_folds_tile_the_most_recent_days_oldest_first() -> None:
    folds = make_folds(100, 3, 7, min_train_days(14), "Beauty")
    assert [fold.cutoff for fold in folds] == [79, 86, 93]
    targets = np.concatenate([fold.targets for fold in folds])
    assert targets.tolist() == list(range(79, 100))


def test_too_short_history_names_the_category_and_the_need() -> None:
    with pytest.raises(BenchDataError, match=r"'Beauty' has 60 days.*at least 77"):
        make_folds(60, 5, 7, min_train_days(14), "Beauty")


def test_fold_windows_see_only_days_before_the_cutoff(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    values = np.arange(120, dtype=np.float64)
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    windows = fold_windows("Beauty", values, dates, 90, settings)
    assert len(windows.values) == 90
    assert int(windows.val[-1]) == 89
    assert int(windows.train[-1]) < int(windows.val[0])
    # normalization is fitted on the training days only
    assert windows.stats.mean == pytest.approx(values[: int(windows.train[-1]) + 1].mean())
