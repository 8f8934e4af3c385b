"""Forecast accuracy as pure functions with one signature `(actual, predicted, insample) -> float`.

`insample` is the training segment (original units); only the scaled metrics read it. MASE and
RMSSE divide by the in-sample error of the seasonal-naive forecast (period 7), as in the M5
competition, so 1.0 means "as good as repeating last week on the training days". A scale of 0
(a training segment that repeats every week exactly) makes them undefined: NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from training.windows import SEASON, FloatArray

Metric = Callable[[FloatArray, FloatArray, FloatArray], float]


def mae(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(_errors(actual, predicted))))


def rmse(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """Root mean squared error: the headline metric (it rewards getting the totals right)."""
    return float(np.sqrt(np.mean(_errors(actual, predicted) ** 2)))


def smape(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """Symmetric MAPE in percent (0–200); a day where both are 0 counts as a perfect 0."""
    _errors(actual, predicted)
    numerator = 2.0 * np.abs(actual - predicted)
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    return float(100.0 * np.mean(ratio))


def mase(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """MAE divided by the in-sample MAE of the seasonal-naive forecast."""
    scale = float(np.mean(np.abs(_seasonal_differences(insample))))
    return mae(actual, predicted, insample) / scale if scale > 0 else math.nan


def rmsse(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """RMSE divided by the in-sample RMSE of the seasonal-naive forecast (M5's headline metric)."""
    scale = float(np.sqrt(np.mean(_seasonal_differences(insample) ** 2)))
    return rmse(actual, predicted, insample) / scale if scale > 0 else math.nan


def bias(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """Mean of forecast − actual: above 0 the forecast runs high (stock left over), below 0 low."""
    return float(np.mean(-_errors(actual, predicted)))


def wape(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> float:
    """Weighted absolute percentage error: total absolute error over total sales, in percent (NaN
    when nothing sold); unlike MAPE, defined on days without a sale."""
    total = float(np.sum(np.abs(actual)))
    return 100.0 * float(np.sum(np.abs(_errors(actual, predicted)))) / total if total > 0 else math.nan


METRICS: dict[str, Metric] = {
    "mae": mae,
    "rmse": rmse,
    "smape": smape,
    "mase": mase,
    "rmsse": rmsse,
    "bias": bias,
    "wape": wape,
}


def evaluate(actual: FloatArray, predicted: FloatArray, insample: FloatArray) -> dict[str, float]:
    """Every metric of `METRICS` for one forecast."""
    return {name: metric(actual, predicted, insample) for name, metric in METRICS.items()}


def _errors(actual: FloatArray, predicted: FloatArray) -> FloatArray:
    if actual.shape != predicted.shape or actual.ndim != 1 or len(actual) == 0:
        raise ValueError(
            f"actual {actual.shape} and predicted {predicted.shape} must be equal, non-empty 1-D"
        )
    return np.asarray(actual - predicted, dtype=np.float64)


def _seasonal_differences(insample: FloatArray) -> FloatArray:
    if len(insample) <= SEASON:
        raise ValueError(f"the in-sample series needs more than {SEASON} days, got {len(insample)}")
    return np.asarray(insample[SEASON:] - insample[:-SEASON], dtype=np.float64)
