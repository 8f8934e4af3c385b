"""The held-out evaluation of a version: the evaluation model and every baseline on the test days,
the served version on the same days when that is fair, interval coverage and the backtest series.

The evaluation model is fitted on the training segment only (early-stopped on validation), so its
test metrics say how the served model — the same recipe fitted on later days too — will do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.contracts.manifest import IntervalCalibration, IntervalScale
from core.contracts.metrics import Backtest, ForecastScores, VersionMetrics
from training.baselines import BASELINES
from training.intervals import calibrate, coverage, tail_within_history
from training.metrics import evaluate
from training.multistep import Forecaster, actual_paths, recursive_paths
from training.windows import CategoryWindows, FloatArray, window_inputs

CLOSED_FLOOR_SHARE = 0.01
"""A window's interval scale is never below this share of the training days' std."""


def calibrate_intervals(
    forecaster: Forecaster,
    windows: CategoryWindows,
    horizon: int,
    *,
    scale: IntervalScale,
    default_levels: list[int],
    history: bool,
    level_exponent: float,
) -> IntervalCalibration:
    """Conformal calibration of `forecaster` from its forecasts `horizon` days ahead of every
    validation day (never learned from).

    With `history`, every quantile is at least the one of the whole history's origins too: a short
    tail misses the volatility of earlier regimes that the test days may bring back, while the
    history alone is optimistic where it was learned from, so neither is used alone. A level the
    tail is too short to tell (`tail_within_history`) takes the history's, widened as the tail is.
    `level_exponent`: how each day's width follows its forecast's level (`intervals.level_share`)."""
    values = windows.values
    floor = CLOSED_FLOOR_SHARE * windows.stats.std
    non_negative = bool(np.all(windows.training_days >= 0))

    # the tail's paths are the last rows of the whole history's: each origin is forecast once
    origins = np.concatenate([windows.train, windows.val]) if history else windows.val
    paths = recursive_paths(
        forecaster, values, origins, windows.window_size, horizon, windows.weekdays(origins)
    )

    def from_rows(rows: slice) -> IntervalCalibration:
        return calibrate(
            paths[rows],
            actual_paths(values, origins[rows], horizon),
            window_inputs(values, origins[rows], windows.window_size),
            scale=scale,
            floor=floor,
            default_levels=default_levels,
            non_negative=non_negative,
            level_exponent=level_exponent,
        )

    tail = from_rows(slice(len(origins) - len(windows.val), None))
    if not history:
        return tail
    whole = from_rows(slice(None))
    actual = actual_paths(values, windows.val, horizon)
    days = np.isfinite(actual).sum(axis=0).tolist()
    quantiles = tail_within_history(np.asarray(tail.quantiles), np.asarray(whole.quantiles), days)
    update: dict[str, Any] = {"quantiles": quantiles.tolist()}
    if tail.total_quantiles is not None and whole.total_quantiles is not None:
        totals = np.isfinite(np.cumsum(actual, axis=1)).sum(axis=0).tolist()
        update["total_quantiles"] = tail_within_history(
            np.asarray(tail.total_quantiles), np.asarray(whole.total_quantiles), totals
        ).tolist()
    return tail.model_copy(update=update)


def evaluate_version(
    windows: CategoryWindows,
    forecaster: Forecaster,
    calibration: IntervalCalibration | None,
    served: tuple[str, FloatArray | str] | None,
    version: str,
    sold: tuple[CategoryWindows, FloatArray] | None = None,
) -> tuple[VersionMetrics, dict[str, FloatArray]]:
    """Test metrics of the evaluation model, every baseline and the served version on the same days.

    `served` is `(version, forecast)`, or `(version, why not)` when that version could not be scored
    fairly: the new version is still saved, with `served_error` instead of `test["served"]`.
    `calibration` (the evaluation model's, from its validation days) gives the test coverage.
    With calendar terms `windows` are divided by the days' factors and `sold` is (the same windows
    of the series as sold, each day's factor): the model's forecasts are multiplied back and every
    score is in sales as sold (coverage, unchanged by a positive factor, in the model's units).
    """
    inputs = windows.inputs("test")
    model = forecaster(inputs, windows.weekdays(windows.test))
    covered = coverage(calibration, model, windows.targets("test"), inputs) if calibration else {}
    scored = windows
    if sold is not None:
        scored, factors = sold
        model = model * factors[windows.test]
    forecasts: dict[str, FloatArray] = {"model": model}
    for name, baseline in BASELINES.items():
        forecasts[name] = baseline(scored.values, scored.test, scored.window_size)
    if served is not None and not isinstance(served[1], str):
        forecasts["served"] = served[1]
    actual = scored.targets("test")
    dates = windows.target_dates("test")
    metrics = VersionMetrics(
        category=windows.category,
        version=version,
        window_size=windows.window_size,
        n_test=len(actual),
        test_start=dates[0].date(),
        test_end=dates[-1].date(),
        test={
            name: ForecastScores(**_finite(evaluate(actual, forecast, scored.training_days)))
            for name, forecast in forecasts.items()
        },
        served_version=served[0] if served is not None else None,
        served_error=served[1] if served is not None and isinstance(served[1], str) else None,
        coverage=covered,
        backtest=Backtest(
            dates=[day.date() for day in dates],
            actual=actual.tolist(),
            forecasts={name: forecast.tolist() for name, forecast in forecasts.items()},
        ),
    )
    return metrics, forecasts


def _finite(scores: Mapping[str, float]) -> dict[str, Any]:
    """Undefined metrics (a zero MASE/RMSSE scale) are NaN here and null in the file."""
    return {name: value if math.isfinite(value) else None for name, value in scores.items()}
