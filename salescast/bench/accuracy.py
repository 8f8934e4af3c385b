"""`salescast bench accuracy`: rolling-origin comparison of the CNN-LSTM with naive, seasonal-naive,
moving-average, AutoETS and AutoARIMA forecasts, on the same target days, per category and overall.

Per category the metrics are computed over all folds' target days together (the scaled metrics use
the days before the first cut-off as in-sample period); per fold they use the days before that
fold's cut-off. "Overall" is the mean over categories (RMSE and MAE are in each category's units,
so the scale-free RMSSE, MASE and sMAPE are the ones to compare across categories).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.rolling_origin import fit_and_forecast, fold_windows, make_folds, min_train_days
from salescast.bench.statistical import STATISTICAL_METHODS, MissingBenchExtraError, statistical_forecasts
from training.baselines import BASELINES
from training.metrics import METRICS, evaluate
from training.windows import FloatArray

logger = logging.getLogger(__name__)

MODEL = "cnn_lstm"
Progress = Callable[[str], None]


@dataclass
class CategoryAccuracy:
    """One category: target dates and values, every method's forecasts, metrics overall and per fold."""

    category: str
    dates: pd.DatetimeIndex
    actual: FloatArray
    cutoffs: list[str]
    forecasts: dict[str, FloatArray]
    metrics: dict[str, dict[str, float]]
    fold_metrics: list[dict[str, dict[str, float]]]
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def best_baseline(self) -> str:
        baselines = {name: m["rmse"] for name, m in self.metrics.items() if name != MODEL}
        return min(baselines, key=lambda name: baselines[name])

    @property
    def rmse_ratio(self) -> float:
        """Model RMSE / best baseline RMSE: below 1 means the model beats every baseline."""
        best = self.metrics[self.best_baseline]["rmse"]
        return self.metrics[MODEL]["rmse"] / best if best > 0 else math.nan


@dataclass
class AccuracyReport:
    data_file: str
    folds: int
    fold_days: int
    window_size: int
    categories: list[CategoryAccuracy]

    @property
    def methods(self) -> list[str]:
        names = [MODEL, *BASELINES, *STATISTICAL_METHODS]
        return [name for name in names if all(name in c.metrics for c in self.categories)]

    def overall(self) -> dict[str, dict[str, float]]:
        """Mean of each metric over categories, per method."""
        return {
            method: {
                metric: float(np.nanmean([c.metrics[method][metric] for c in self.categories]))
                for metric in METRICS
            }
            for method in self.methods
        }

    def overall_ratio(self) -> float:
        """Mean over categories of the model's RMSE ratio to that category's best baseline."""
        return float(np.nanmean([c.rmse_ratio for c in self.categories]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "data_file": self.data_file,
            "folds": self.folds,
            "fold_days": self.fold_days,
            "window_size": self.window_size,
            "overall": {"metrics": self.overall(), "model_rmse_ratio_to_best_baseline": self.overall_ratio()},
            "categories": {
                c.category: {
                    "target_start": str(c.dates[0].date()),
                    "target_end": str(c.dates[-1].date()),
                    "cutoffs": c.cutoffs,
                    "metrics": c.metrics,
                    "best_baseline": c.best_baseline,
                    "model_rmse_ratio_to_best_baseline": c.rmse_ratio,
                    "folds": c.fold_metrics,
                    "errors": c.errors,
                    "seconds": round(c.seconds, 1),
                }
                for c in self.categories
            },
        }


def run_accuracy(
    settings: Settings,
    data_path: Path,
    *,
    folds: int | None = None,
    fold_days: int | None = None,
    statistical: bool = True,
    progress: Progress = print,
) -> AccuracyReport:
    """Rolling-origin evaluation of every category of `data_path` (all categories of the file when
    `data.categories` is `auto`). `statistical=False` skips statsforecast (fast smoke runs)."""
    bench = settings.bench
    folds = folds or bench.folds
    fold_days = fold_days or bench.fold_days
    sales = load_daily_sales(settings.data, data_path)
    results = []
    for category, series in sales.items():
        start = time.monotonic()
        result = _category_accuracy(category, series, settings, folds, fold_days, statistical, progress)
        result.seconds = time.monotonic() - start
        progress(
            f"{category}: model RMSE {result.metrics[MODEL]['rmse']:.1f}, best baseline "
            f"{result.best_baseline} {result.metrics[result.best_baseline]['rmse']:.1f} "
            f"(ratio {result.rmse_ratio:.3f}, {result.seconds:.0f} s)"
        )
        results.append(result)
    return AccuracyReport(str(data_path), folds, fold_days, settings.window.size, results)


def _category_accuracy(
    category: str,
    series: pd.Series,
    settings: Settings,
    folds: int,
    fold_days: int,
    statistical: bool,
    progress: Progress,
) -> CategoryAccuracy:
    values = series.to_numpy(dtype=np.float64)
    dates = pd.DatetimeIndex(series.index)
    layout = make_folds(len(values), folds, fold_days, min_train_days(settings.window.size), category)
    per_fold: list[dict[str, FloatArray]] = []
    errors: dict[str, str] = {}
    for fold in layout:
        progress(f"{category}: fold {fold.number + 1}/{folds} (cut-off {dates[fold.cutoff].date()})")
        windows = fold_windows(category, values, dates, fold.cutoff, settings)
        forecasts = {MODEL: fit_and_forecast(windows, values, fold.targets, settings)}
        for name, baseline in BASELINES.items():
            forecasts[name] = baseline(values, fold.targets, settings.window.size)
        if statistical:
            try:
                forecasts.update(
                    statistical_forecasts(values, fold.cutoff, fold.targets, settings.bench.season_length)
                )
            except MissingBenchExtraError:
                raise
            except Exception as exc:  # a reference that cannot fit this series is reported, not fatal
                errors[f"fold {fold.number + 1}"] = f"statistical references failed: {exc}"
                logger.warning(
                    "statistical references failed category=%s fold=%d: %s", category, fold.number + 1, exc
                )
        per_fold.append(forecasts)
    methods = [
        name for name in per_fold[0] if all(name in f and np.all(np.isfinite(f[name])) for f in per_fold)
    ]
    targets = np.concatenate([fold.targets for fold in layout])
    actual = values[targets]
    combined = {name: np.concatenate([f[name] for f in per_fold]) for name in methods}
    insample = values[: layout[0].cutoff]
    return CategoryAccuracy(
        category=category,
        dates=dates[targets],
        actual=actual,
        cutoffs=[str(dates[fold.cutoff].date()) for fold in layout],
        forecasts=combined,
        metrics={name: evaluate(actual, forecast, insample) for name, forecast in combined.items()},
        fold_metrics=[
            {name: evaluate(values[fold.targets], f[name], values[: fold.cutoff]) for name in methods}
            for fold, f in zip(layout, per_fold, strict=True)
        ],
        errors=errors,
    )


def metric_rows(metrics: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> list[list[str]]:
    """Table rows `method, RMSE, RMSSE, MAE, sMAPE, MASE` (the order the docs use)."""
    return [
        [method, *(_fmt(metrics[method][name]) for name in ("rmse", "rmsse", "mae", "smape", "mase"))]
        for method in methods
    ]


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
