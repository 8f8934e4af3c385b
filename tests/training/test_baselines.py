"""Baselines against hand-computed forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from training.baselines import BASELINES, moving_average, naive, seasonal_naive

VALUES = np.array([10, 12, 0, 5, 8, 9, 11, 13, 4, 6], dtype=np.float64)
TARGETS = np.array([8, 9])


def test_naive_is_yesterday() -> None:
    np.testing.assert_array_equal(naive(VALUES, TARGETS, 3), [13.0, 4.0])


def test_seasonal_naive_is_one_week_before() -> None:
    np.testing.assert_array_equal(seasonal_naive(VALUES, TARGETS, 3), [12.0, 0.0])


def test_moving_average_is_the_window_mean() -> None:
    np.testing.assert_allclose(moving_average(VALUES, TARGETS, 3), [11.0, 28.0 / 3.0])


def test_seasonal_naive_needs_a_week_of_history() -> None:
    with pytest.raises(ValueError, match="7 days before"):
        seasonal_naive(VALUES, np.array([6]), 3)


def test_every_baseline_gives_one_forecast_per_target() -> None:
    for name, baseline in BASELINES.items():
        assert baseline(VALUES, TARGETS, 3).shape == (2,), name
