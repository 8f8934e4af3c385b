"""One category of a run: fit (evaluation and served) → export → calibrate → evaluate → write → plot →
log, into a staging folder that becomes the version folder only when every step succeeded. Run by
`training.pipeline` for each category, in its own process or in a Ray task (`training.ray_executor`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from core.artifacts import FORECAST_PLOT_FILE, LOSS_PLOT_FILE, MODEL_FILE, version_dir
from core.contracts.job_result import CategoryResult
from core.contracts.manifest import IntervalCalibration, write_manifest
from core.contracts.metrics import write_metrics
from core.errors import SalescastError
from core.sales_data import get_category
from core.settings import Settings
from handlers.forecast_steps import load_model
from training.calendar import SeriesCalendar
from training.changes import series_sha256
from training.classical import describe_classical
from training.evaluation import calibrate_intervals, evaluate_version
from training.export import export_torchscript
from training.fitting import fit_classical_only, fit_forecaster, torch_threads
from training.forecaster import WindowForecaster, as_forecaster
from training.loss_history import Histories, Listener, ignore_progress
from training.multistep import Forecaster
from training.plots import plot_forecast, plot_loss
from training.recorded_run import RunLog, RunOpener
from training.run_inputs import CalendarUse, category_windows, fallback_of
from training.served_comparison import compare_with_served
from training.shared import SharedNetworks
from training.version_record import (
    claim_version,
    fit_params,
    log_finished,
    log_results,
    log_start,
    version_manifest,
)
from training.windows import CategoryWindows, FloatArray, pooled_windows

logger = logging.getLogger(__name__)


class CategoryWork(NamedTuple):
    """What every category of a run trains from: the whole file's series (the pooled networks' other
    categories) divided by their calendar factors, the settings, the data file's record, the run's
    shared networks and each category's calendar terms (with its series as sold)."""

    sales: Mapping[str, pd.Series]
    settings: Settings
    data_info: Mapping[str, str]
    shared: SharedNetworks | None
    calendars: Mapping[str, SeriesCalendar]


def train_category(
    category: str,
    compare_version: str | None,
    work: CategoryWork,
    tracker: RunOpener,
    listener: Listener = ignore_progress,
) -> CategoryResult:
    """Train one category of a run on `training.num_threads` torch threads (either executor); a
    failure is its result, not an exception."""
    try:
        series = get_category(work.sales, category)
        calendar = work.calendars[category]
        sold = get_category({category: calendar.sold}, category)
        windows = category_windows(series, work.settings)
        # the calibration's recursive paths too run on `training.num_threads` (two threads
        # spin-wait on a busy 2-core machine: several times slower than one)
        with torch_threads(work.settings.training.num_threads):
            return train_windows(
                windows,
                work.sales,
                work.settings,
                tracker,
                {**work.data_info, "series_sha256": series_sha256(sold)},
                compare_version,
                listener,
                work.shared,
                CalendarUse.of(calendar, windows, category_windows(sold, work.settings)),
            )
    except Exception as exc:  # one category must not stop the others; the error is in its result
        return failed_result(category, exc)


def failed_result(category: str, exc: BaseException) -> CategoryResult:
    """The result of a category whose training raised: its message (a traceback only if unexpected)."""
    if not isinstance(exc, SalescastError):
        logger.error("training failed category=%s", category, exc_info=exc)
    message = str(exc) or type(exc).__name__
    logger.error("training failed category=%s error=%s", category, message)
    return CategoryResult(category=category, status="failed", error=message, failed_step="training")


def train_windows(
    windows: CategoryWindows,
    sales: Mapping[str, pd.Series],
    settings: Settings,
    tracker: RunOpener,
    data_info: Mapping[str, str],
    compare_version: str | None,
    listener: Listener,
    shared: SharedNetworks | None = None,
    calendar: CalendarUse | None = None,
) -> CategoryResult:
    """fit → export → calibrate → evaluate → write → plot → log, all into the staging folder, which
    becomes the version folder only when every step succeeded. With `calendar` terms the windows
    are the series divided by its days' factors; the scores and plots are in sales as sold."""
    category = windows.category
    version, staging = claim_version(settings, category)
    serving = windows.for_serving(settings.split)
    run: RunLog | None = None
    fallback = fallback_of(windows, serving, settings)
    try:
        run = tracker.start_run(category, version)
        log_start(run, settings, windows, serving, data_info, version, fallback)
        histories = Histories.start(run, category, version, settings, listener)
        if fallback is not None:
            shared = None  # its model holds no network, shared or its own
            fits = Fits(
                fit_classical_only(windows, settings), fit_classical_only(serving, settings), histories
            )
        else:
            fits = _fit(windows, serving, sales, settings, histories, shared)
        run.log_params(fit_params("evaluation", fits.evaluation) | fit_params("served", fits.served))
        served_model = _export(fits.served, staging)
        evaluation_model = as_forecaster(fits.evaluation, fits.evaluation.normalization())
        intervals, evaluation_intervals = _calibrate(
            served_model, evaluation_model, windows, serving, settings
        )
        sold = windows if calendar is None else calendar.sold
        served = compare_with_served(settings, sold, compare_version, version) if compare_version else None
        metrics, forecasts = evaluate_version(
            windows,
            evaluation_model,
            evaluation_intervals,
            served,
            version,
            sold=None if calendar is None else (calendar.sold, calendar.factors),
        )
        manifest = version_manifest(
            windows,
            serving,
            settings,
            data_info,
            version,
            intervals,
            fits.served.normalization(),
            shared.record if shared is not None else None,
            fallback,
            describe_classical(fits.served.classical, fits.served.classical_weight),
            calendar.block if calendar is not None else None,
        )
        write_manifest(staging, manifest)
        write_metrics(staging, metrics)
        _plot(staging, sold, fits.histories, forecasts["model"], forecasts["seasonal_naive"], version)
        log_results(run, metrics, staging)
        final = version_dir(settings, category, version)
        staging.replace(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if run is not None:
            run.finish(succeeded=False)
        raise
    log_finished(category, version, fits.histories, metrics)
    return CategoryResult(
        category=category,
        status="succeeded",
        version=version,
        artifact_dir=str(final),
        metrics=metrics,
        epochs=len(fits.histories.served.val_loss),
        mlflow_experiment_id=str(tracker.experiment_id),
        mlflow_run_id=run.run_id,
    )


class Fits(NamedTuple):
    """The evaluation fit (training segment only, scored on the test days) and the served fit."""

    evaluation: WindowForecaster
    served: WindowForecaster
    histories: Histories


def _fit(
    windows: CategoryWindows,
    serving: CategoryWindows,
    sales: Mapping[str, pd.Series],
    settings: Settings,
    histories: Histories,
    shared: SharedNetworks | None = None,
) -> Fits:
    """Both fits of one recipe; the networks also learn from the other categories' windows before
    the test days (evaluation) or from all of them (served). With `shared` networks none is trained
    here: each fit freezes its set in and the histories replay their loss curves."""
    category, size, split = windows.category, settings.window.size, settings.split
    pool = settings.model.pool_categories
    if shared is not None:
        with tempfile.TemporaryDirectory(prefix="salescast-ckpt-") as checkpoints:
            evaluation = fit_forecaster(windows, settings, Path(checkpoints), networks=shared.evaluation)
            served = fit_forecaster(serving, settings, Path(checkpoints), networks=shared.served)
        histories.evaluation.replay(shared.evaluation_curve)
        histories.served.replay(shared.served_curve)
        return Fits(evaluation, served, histories)
    with tempfile.TemporaryDirectory(prefix="salescast-ckpt-") as checkpoints:
        evaluation = fit_forecaster(
            windows,
            settings,
            Path(checkpoints) / "evaluation",
            others=pooled_windows(sales, category, windows.target_dates("test")[0], size, split)
            if pool
            else (),
            callbacks=[histories.evaluation],
        )
        served = fit_forecaster(
            serving,
            settings,
            Path(checkpoints) / "serving",
            others=pooled_windows(sales, category, None, size, split) if pool else (),
            callbacks=[histories.served],
        )
    return Fits(evaluation, served, histories)


def _export(served_fit: WindowForecaster, staging: Path) -> Forecaster:
    """Write `model.pt` and return it as it will be served (loaded back, run the handler's way)."""
    export_torchscript(served_fit, staging / MODEL_FILE)
    return as_forecaster(load_model(staging / MODEL_FILE), served_fit.normalization())


def _calibrate(
    served_model: Forecaster,
    evaluation_model: Forecaster,
    windows: CategoryWindows,
    serving: CategoryWindows,
    settings: Settings,
) -> tuple[IntervalCalibration, IntervalCalibration]:
    """The served model's intervals (every day ahead, on its own validation tail) and the evaluation
    model's next-day intervals (whose test coverage is reported).

    A short history's intervals are in sales units (scale `none`): its windows hold the zeros before
    the first sale, which swell a window-based scale (`msd`: the first week against the zeros) until
    the launch leaves the window, so the width would shrink as the product ages with nothing learned."""
    forecast = settings.forecast
    options: dict[str, Any] = {
        "scale": "none" if windows.short_history else forecast.interval_scale,
        "default_levels": forecast.interval_levels,
        "history": forecast.interval_history,
        "level_exponent": forecast.interval_level_exponent,
    }
    return (
        calibrate_intervals(served_model, serving, forecast.max_horizon, **options),
        calibrate_intervals(evaluation_model, windows, 1, **options),
    )


def _plot(
    staging: Path,
    windows: CategoryWindows,
    histories: Histories,
    model_forecast: FloatArray,
    seasonal_naive: FloatArray,
    version: str,
) -> None:
    title = f"{windows.category} · {version}"
    plot_loss(
        {
            "evaluation fit": (histories.evaluation.train_loss, histories.evaluation.val_loss),
            "served fit": (histories.served.train_loss, histories.served.val_loss),
        },
        staging / LOSS_PLOT_FILE,
        f"Loss · {title}",
    )
    plot_forecast(
        windows.target_dates("test"),
        windows.targets("test"),
        model_forecast,
        seasonal_naive,
        staging / FORECAST_PLOT_FILE,
        f"Test segment (held out) · {title}",
    )
