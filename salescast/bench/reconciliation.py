"""`salescast bench reconciliation`: do a file's categories forecast better reconciled with its total?

Issue 23 asks whether reconciliation across levels (MinT) earns a place. A served version forecasts
one category; reconciliation needs every category's forecast and the total's at once, so before it is
built into batch forecasts this measures what it would give, on the classical part of each forecaster
(`training.classical.fit_classical` after the calendar terms, as a run fits it, without the networks:
cheap enough for every profile). Rolling origin as `bench accuracy`: per fold, the total and each
category are fitted on the days before the cut-off, forecast one day ahead from every day of the fold,
and the errors on their validation tail (days the fit did not learn from) give W
(`training.reconciliation`). Reported: each series' RMSE unreconciled and each method's ratio to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.accuracy import fold_file_calendar, rmse
from salescast.bench.rolling_origin import (
    BenchDataError,
    Fold,
    fold_calendar,
    fold_windows,
    make_folds,
    min_train_days,
)
from training.calendar import FileCalendar
from training.classical import fit_classical
from training.reconciliation import METHODS, error_covariance, reconcile, shrunk_covariance
from training.windows import FloatArray, IndexArray, window_inputs

TOTAL = "total"
"""The file's total in the report (all categories summed)."""


@dataclass(frozen=True)
class _Fitted:
    """One series' one-day-ahead forecasts of a fold's days and its errors on its validation tail."""

    forecasts: FloatArray
    tail_errors: FloatArray


def run_reconciliation(
    settings: Settings,
    data_path: Path,
    *,
    folds: int | None = None,
    fold_days: int | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Per series (the total first), the unreconciled RMSE and each method's RMSE ratio to it, over
    every fold's days; and the shrinkage λ MinT chose per fold."""
    folds = folds or settings.bench.folds
    fold_days = fold_days or settings.bench.fold_days
    sales = load_daily_sales(settings.data, data_path)
    if len(sales) < 2:
        raise BenchDataError(f"reconciliation needs at least 2 categories, {data_path} has {len(sales)}")
    frame = pd.DataFrame(dict(sales)).sort_index().asfreq("D").fillna(0.0)
    names = [TOTAL, *sales]
    frame.insert(0, TOTAL, frame.sum(axis=1))
    dates = pd.DatetimeIndex(frame.index)
    layout = make_folds(len(frame), folds, fold_days, min_train_days(settings.window.size), TOTAL)
    unreconciled: list[FloatArray] = []
    reconciled: dict[str, list[FloatArray]] = {method: [] for method in METHODS}
    actual: list[FloatArray] = []
    shrinkage: list[float] = []
    for fold in layout:
        cutoff = dates[fold.cutoff]
        file_terms = fold_file_calendar(dict(sales), cutoff, settings)
        fitted = [
            _fit_series(name, frame[name].to_numpy(np.float64), dates, fold, settings, file_terms)
            for name in names
        ]
        forecasts = np.vstack([series.forecasts for series in fitted])
        tails = min(len(series.tail_errors) for series in fitted)
        errors = np.vstack([series.tail_errors[-tails:] for series in fitted])
        unreconciled.append(forecasts)
        for method in METHODS:
            reconciled[method].append(reconcile(forecasts, error_covariance(errors, method)))
        shrinkage.append(shrunk_covariance(errors)[1])
        actual.append(frame[names].to_numpy(np.float64)[fold.targets].T)
        progress(f"fold {fold.number + 1}/{len(layout)} (cut-off {cutoff.date()}): λ {shrinkage[-1]:.2f}")
    truth = np.hstack(actual)
    base = np.hstack(unreconciled)
    rows = []
    for index, name in enumerate(names):
        before = rmse(truth[index], base[index])
        ratios = {
            method: rmse(truth[index], np.hstack(reconciled[method])[index]) / before if before > 0 else 1.0
            for method in METHODS
        }
        rows.append({"series": name, "rmse": before, "ratio": ratios})
    return {
        "data": str(data_path),
        "folds": folds,
        "fold_days": fold_days,
        "methods": list(METHODS),
        "mint_shrinkage": shrinkage,
        "series": rows,
    }


def _fit_series(
    name: str,
    values: FloatArray,
    dates: pd.DatetimeIndex,
    fold: Fold,
    settings: Settings,
    file_terms: FileCalendar,
) -> _Fitted:
    """The classical part fitted on the days before the fold's cut-off as a run fits it (calendar
    terms first), in the series' own units: forecasts of the fold's days and errors on the validation
    tail."""
    cutoff, targets = fold.cutoff, fold.targets
    adjusted, factors = fold_calendar(name, values, dates, cutoff, settings, file_terms)
    windows = fold_windows(name, adjusted, dates, cutoff, settings)
    if windows.first_day > 0:
        raise BenchDataError(f"{name}: too short before {dates[cutoff].date()} to reconcile")
    module = fit_classical(windows.training_days, windows.train, windows.window_size, settings.model)

    def forecast(days: IndexArray) -> FloatArray:
        inputs = torch.tensor(window_inputs(adjusted, days, windows.window_size), dtype=torch.float32)
        with torch.no_grad():
            return np.asarray(module(inputs).numpy(), dtype=np.float64) * factors[days]

    tail = windows.val
    return _Fitted(forecast(targets), forecast(tail) - values[tail])


def reconciliation_markdown(report: Mapping[str, Any]) -> str:
    """The report as the table docs/benchmarks.md quotes."""
    methods = report["methods"]
    lines = [
        f"Reconciliation of the classical parts, one day ahead, {report['folds']} × "
        f"{report['fold_days']} days ({report['data']}); RMSE ratio to unreconciled (below 1: it helps).",
        "",
        "| series | RMSE unreconciled | " + " | ".join(methods) + " |",
        "| :-- | --: | " + " | ".join("--:" for _ in methods) + " |",
    ]
    for row in report["series"]:
        ratios = " | ".join(f"{row['ratio'][method]:.3f}" for method in methods)
        lines.append(f"| {row['series']} | {row['rmse']:.1f} | {ratios} |")
    shrinkage = ", ".join(f"{value:.2f}" for value in report["mint_shrinkage"])
    lines += ["", f"MinT shrinkage λ per fold: {shrinkage}"]
    return "\n".join(lines) + "\n"
