"""Metrics against hand-computed values (see the arithmetic in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.metrics import METRICS, bias, evaluate, mae, mase, rmse, rmsse, smape, wape

ACTUAL = np.array([2.0, 0.0, 4.0, 0.0])
PREDICTED = np.array([1.0, 0.0, 6.0, 3.0])  # errors 1, 0, -2, -3
# seasonal differences insample[7:] - insample[:-7] = [2, 0, 0, 0]: scale MAE 0.5, scale RMSE 1.0
INSAMPLE = np.array([1, 2, 3, 4, 5, 6, 7, 3, 2, 3, 4], dtype=np.float64)


def test_mae() -> None:
    assert mae(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(6 / 4)


def test_rmse() -> None:
    assert rmse(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(math.sqrt(14 / 4))


def test_smape_counts_zero_over_zero_as_zero() -> None:
    # 2·1/3, 0/0 → 0, 2·2/10, 2·3/3 → mean 0.76667 → percent
    assert smape(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(100 * (2 / 3 + 0 + 0.4 + 2) / 4)
    assert smape(np.zeros(3), np.zeros(3), INSAMPLE) == 0.0


def test_mase_scales_by_in_sample_seasonal_naive_mae() -> None:
    assert mase(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(1.5 / 0.5)


def test_rmsse_scales_by_in_sample_seasonal_naive_rmse() -> None:
    assert rmsse(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(math.sqrt(3.5) / 1.0)


def test_bias_is_the_mean_overforecast() -> None:
    # forecast − actual: -1, 0, 2, 3 → 4 / 4
    assert bias(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(1.0)


def test_wape_is_total_absolute_error_over_total_sales() -> None:
    # |errors| 1 + 0 + 2 + 3 = 6 over sales 2 + 0 + 4 + 0 = 6 → 100 %
    assert wape(ACTUAL, PREDICTED, INSAMPLE) == pytest.approx(100.0)
    assert math.isnan(wape(np.zeros(4), PREDICTED, INSAMPLE))


def test_scaled_metrics_are_nan_for_a_perfectly_weekly_training_segment() -> None:
    weekly = np.tile(np.arange(7, dtype=np.float64), 3)
    assert math.isnan(mase(ACTUAL, PREDICTED, weekly))
    assert math.isnan(rmsse(ACTUAL, PREDICTED, weekly))


def test_perfect_forecast_scores_zero() -> None:
    scores = evaluate(ACTUAL, ACTUAL.copy(), INSAMPLE)
    assert set(scores) == {"mae", "rmse", "smape", "mase", "rmsse", "bias", "wape"}
    assert all(value == 0.0 for value in scores.values())


def test_shape_mismatch_is_refused() -> None:
    for metric in METRICS.values():
        with pytest.raises(ValueError, match="must be equal"):
            metric(ACTUAL, PREDICTED[:3], INSAMPLE)


def test_short_in_sample_series_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 7 days"):
        mase(ACTUAL, PREDICTED, INSAMPLE[:7])
