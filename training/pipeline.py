"""Train one CNN-LSTM per category: windows → two fits → TorchScript → metrics, intervals → artifacts.

Each category is fitted twice with the same recipe: an evaluation fit on the training segment
(early-stopped on validation) whose held-out test metrics, coverage and backtest are reported, and
the served fit on every day but the most recent validation tail (early stopping and the interval
calibration use that tail), so tomorrow's forecast comes from a model that saw the recent months.
With `model.pool_categories` the networks learn across categories and are trained once per run for
every category (`training.shared`); each category then fits only its own classical part and freezes
them in, or freezes in networks saved by an earlier run (`shared_network`: the cheap refit, the
second cadence). With `only_changed` a category whose data is the data its latest version learned
from is skipped and reported `unchanged` (`training.changes`). `train_categories` is the library
entry point of `salescast train`. A category with fewer days than the networks' windows need
(a product launched weeks ago) but at least `training.min_history_days` gets a classical-only
version (`training.windows.make_short_windows`, `fit_classical_only`) whose manifest says why
(`fallback`); the shared networks leave it out. Each category is independent:
a failing one is recorded in its `CategoryResult` and the others still train. A version folder
appears only complete: everything is written to `.tmp-<version>` and renamed at the end.
With `training.executor: ray` each category's work is a Ray task (`training.ray_executor`); the
shared networks are still trained once here, and its MLflow run is recorded in the task and written
here (`training.recorded_run`), so both executors leave the same versions and runs.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from lightning.pytorch.callbacks import Callback

from core.artifacts import (
    FORECAST_PLOT_FILE,
    LOSS_PLOT_FILE,
    MODEL_FILE,
    category_dir,
    latest_version,
    new_version,
    version_dir,
)
from core.contracts.files import ContractError
from core.contracts.job_progress import CategoryProgress, TrainingPhase
from core.contracts.job_result import CategoryResult
from core.contracts.manifest import (
    FORMAT_VERSION,
    CalendarTerms,
    ClassicalPart,
    Evaluation,
    Fallback,
    IntervalCalibration,
    SharedNetwork,
    VersionManifest,
    WindowNormalization,
    read_manifest,
    write_manifest,
)
from core.contracts.metrics import VersionMetrics, read_metrics, write_metrics
from core.errors import SalescastError
from core.sales_data import file_sha256, get_category, load_daily_sales
from core.sample_data import ensure_sample_data
from core.settings import Settings
from core.slugs import category_slug
from handlers.forecast_steps import load_model
from training.calendar import SeriesCalendar, adjust, neighbour_groups, series_calendar, series_factors
from training.changes import CategoryChange, category_changes, series_sha256
from training.classical import describe_classical
from training.evaluation import calibrate_intervals, evaluate_version
from training.export import export_torchscript
from training.fitting import fit_classical_only, fit_forecaster, torch_threads
from training.forecaster import WindowForecaster, as_forecaster, served_normalization
from training.multistep import Forecaster
from training.plots import plot_forecast, plot_loss
from training.recorded_run import RecordingTracker, RunLog, RunOpener, RunRecord, replay
from training.shared import LossCurve, SharedNetworks, load_shared_networks, train_shared_networks
from training.tracking import Tracker, flatten_metrics, mlflow_artifact_root
from training.windows import (
    CategoryWindows,
    FloatArray,
    InsufficientHistoryError,
    make_category_windows,
    make_short_windows,
    minimum_days,
    pooled_windows,
    window_inputs,
)

logger = logging.getLogger(__name__)

_VERSION_WAIT_S = 3.0  # longest wait for the clock to pass the newest existing version


class TrainingError(SalescastError):
    """A training request cannot be carried out (e.g. a comparison with a version that does not exist)."""


Listener = Callable[[CategoryProgress], None]
"""Hears every category's start, each epoch of both fits with its losses, and its end (the job's
progress file, `core.contracts.job_progress`)."""


def _ignore(event: CategoryProgress) -> None:
    """The default listener."""


def resolve_data_path(settings: Settings, data_path: Path | None = None) -> Path:
    """`data_path`, else the configured file (the bundled sample is generated if it is missing)."""
    return Path(data_path) if data_path is not None else ensure_sample_data(settings)


def available_categories(settings: Settings, data_path: Path | None = None) -> list[str]:
    """What `--all` trains: the configured list, or every category in the data for `auto`."""
    if settings.data.categories != "auto":
        return list(settings.data.categories)
    return list(load_daily_sales(settings.data, resolve_data_path(settings, data_path)))


def train_categories(
    categories: Sequence[str],
    experiment_name: str,
    settings: Settings,
    *,
    data_path: Path | None = None,
    compare_versions: Mapping[str, str] | None = None,
    listener: Listener = _ignore,
    dataset_id: str | None = None,
    only_changed: bool = False,
    shared_network: str | None = None,
) -> list[CategoryResult]:
    """Train each of `categories` on the data file and track it in MLflow `experiment_name`.

    `only_changed` trains only the categories that are new or whose own daily series changed since
    their latest version; the others are `unchanged` results naming that version. `shared_network`
    (`latest` or an id) freezes saved shared networks in instead of training them
    (`training.shared.load_shared_networks`; a `SharedNetworkError` when they do not exist or fit).

    `compare_versions` maps a category to an existing version whose model is also scored on the
    new test days (`metrics.served_version`, `metrics.test["served"]`; when that version cannot
    be scored the new one is still saved, with `metrics.served_error`). Problems with the
    whole file, the tracking store or the shared networks' training (`training.shared`, once for
    every category when the networks pool categories) raise; problems of one category land in its
    result.
    `listener` hears every category start, epoch and end (the job's progress file). `dataset_id`
    (an uploaded dataset's id) is recorded with each version beside the file's path and SHA-256.
    """
    compare = dict(compare_versions or {})
    stray = sorted(set(compare) - set(categories))
    if stray:
        raise TrainingError(f"--compare-version names categories that are not being trained: {stray}")
    saved_shared = load_shared_networks(settings, shared_network) if shared_network is not None else None
    path = resolve_data_path(settings, data_path)
    sales = load_daily_sales(settings.data.model_copy(update={"categories": "auto"}), path)
    data_info = {"data_file": str(path.resolve()), "data_sha256": file_sha256(path)}
    if dataset_id is not None:
        data_info["dataset_id"] = dataset_id
    unchanged = (
        {
            change.category: change
            for change in category_changes(categories, sales, settings)
            if not change.changed
        }
        if only_changed
        else {}
    )
    training = [category for category in categories if category not in unchanged]
    for category in categories:
        listener(
            CategoryProgress(category=category, state="unchanged", version=unchanged[category].latest)
            if category in unchanged
            else CategoryProgress(
                category=category, state="training", max_epochs=settings.training.max_epochs
            )
        )
    if not training:
        logger.info("nothing to train: every category's data is the data its latest version learned from")
        return [_unchanged(settings, unchanged[category]) for category in categories]
    if (
        settings.training.executor == "ray"
    ):  # a missing Ray or cluster fails now, not after the shared networks
        from training.ray_executor import preflight

        preflight(settings)
    tracker = Tracker(settings.mlflow, experiment_name, mlflow_artifact_root(settings))
    started = time.monotonic()
    groups = file_neighbour_groups(sales, settings)
    calendars = {name: calendar_of(series, settings, groups) for name, series in sales.items()}
    adjusted = {name: calendar.adjusted for name, calendar in calendars.items()}
    shared = (
        saved_shared
        if saved_shared is not None
        else train_shared_networks(adjusted, settings, datetime.now(UTC))
    )
    shared_seconds = time.monotonic() - started
    work = CategoryWork(adjusted, settings, data_info, shared, calendars)
    outcomes = (
        _ray_outcomes(training, work, compare, tracker, listener)
        if settings.training.executor == "ray"
        else _local_outcomes(training, work, compare, tracker, listener)
    )
    finished = {}
    for result, seconds in outcomes:  # as each category finishes
        # each category's seconds include its share of the shared networks' training
        result = result.model_copy(update={"seconds": round(seconds + shared_seconds / len(training), 3)})
        listener(CategoryProgress(category=result.category, state=result.status, version=result.version))
        finished[result.category] = result
    return [
        _unchanged(settings, unchanged[category]) if category in unchanged else finished[category]
        for category in categories
    ]


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
    listener: Listener = _ignore,
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
            return _train_category(
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
        return _failed(category, exc)


def _failed(category: str, exc: BaseException) -> CategoryResult:
    if not isinstance(exc, SalescastError):
        logger.error("training failed category=%s", category, exc_info=exc)
    message = str(exc) or type(exc).__name__
    logger.error("training failed category=%s error=%s", category, message)
    return CategoryResult(category=category, status="failed", error=message, failed_step="training")


def _local_outcomes(
    categories: Sequence[str],
    work: CategoryWork,
    compare: Mapping[str, str],
    tracker: RunOpener,
    listener: Listener,
) -> Iterator[tuple[CategoryResult, float]]:
    """Each category's result and seconds, one after another in this process."""
    for category in categories:
        start = time.monotonic()
        result = train_category(category, compare.get(category), work, tracker, listener)
        yield result, time.monotonic() - start


class _TaskResult(NamedTuple):
    """What a Ray task hands back: the result, the MLflow run it recorded and the progress it heard."""

    result: CategoryResult
    runs: list[RunRecord]
    events: list[CategoryProgress]


def _train_recorded(
    category: str, compare_version: str | None, work: CategoryWork, experiment_id: str
) -> _TaskResult:
    """A Ray task's category: MLflow calls and progress events recorded for the driver."""
    tracker = RecordingTracker(experiment_id)
    events: list[CategoryProgress] = []
    result = train_category(category, compare_version, work, tracker, events.append)
    return _TaskResult(result, tracker.runs, events)


def _ray_outcomes(
    categories: Sequence[str],
    work: CategoryWork,
    compare: Mapping[str, str],
    tracker: Tracker,
    listener: Listener,
) -> Iterator[tuple[CategoryResult, float]]:
    """Each category's result and seconds from a Ray task (`training.ray_executor`), as they finish;
    the tasks' progress and MLflow runs are replayed here (MLflow is written by this process only)."""
    from training.ray_executor import map_on_ray, ray_session, task_settings

    with ray_session(work.settings):
        remote_work = work._replace(settings=task_settings(work.settings))
        items = [(category, compare.get(category)) for category in categories]
        common = {"work": remote_work, "experiment_id": str(tracker.experiment_id)}
        for index, output in map_on_ray(work.settings, _train_recorded, items, common):
            category = categories[index]
            if isinstance(output, Exception):
                yield _failed(category, output), 0.0
                continue
            logger.info(
                "ray task done category=%s node=%s seconds=%.1f", category, output.node_id, output.seconds
            )
            for event in output.value.events:
                listener(event)
            yield _logged(output.value, tracker, output.node_id), output.seconds


def _logged(task: _TaskResult, tracker: Tracker, node_id: str) -> CategoryResult:
    """The task's result once its MLflow run is written here; a version folder this process cannot see
    (`paths.artifacts` is not shared with the task's node) fails the category."""
    result = task.result
    folder = Path(result.artifact_dir) if result.artifact_dir is not None else None
    visible = folder if folder is not None and folder.is_dir() else None
    try:
        run_ids = [replay(run, tracker, visible, {"salescast.ray_node": node_id}) for run in task.runs]
    except Exception as exc:  # as when the category logs locally: the tracking error is its result
        return _failed(result.category, exc)
    if result.status == "succeeded" and visible is None:
        return _failed(
            result.category,
            TrainingError(
                f"version folder {folder} written by Ray node {node_id} is not visible here: "
                "paths.artifacts must be a volume every node mounts at the same path"
            ),
        )
    if not run_ids:
        return result
    return result.model_copy(
        update={"mlflow_run_id": run_ids[-1], "mlflow_experiment_id": str(tracker.experiment_id)}
    )


def calendar_of(
    series: pd.Series, settings: Settings, groups: frozenset[str] | None = None
) -> SeriesCalendar:
    """A category's calendar terms, learned from its days before the test segment (none for a
    history too short to train); `groups`: the holiday neighbours of its file (`file_neighbour_groups`,
    None: tested on this series alone)."""
    end = calendar_end(series, settings)
    return series_calendar(series, end, settings.calendar, settings.data.holiday_country, groups)


def file_neighbour_groups(sales: Mapping[str, pd.Series], settings: Settings) -> frozenset[str]:
    """The holiday neighbours the categories of a file sell differently on together
    (`training.calendar.neighbour_groups`), from the days before the earliest of their test segments."""
    starts = [series.index[end] for series in sales.values() if (end := calendar_end(series, settings)) > 0]
    if not starts:
        return frozenset()
    return neighbour_groups(sales, min(starts), settings.calendar, settings.data.holiday_country)


def calendar_end(series: pd.Series, settings: Settings) -> int:
    """How many of the series' first days its calendar terms learn from: those before the test
    segment (0 for a history too short to train). So the served model's validation tail, which its
    intervals are calibrated on, lies mostly after them, as the days it will forecast will."""
    try:
        windows = category_windows(series, settings)
    except InsufficientHistoryError:
        return 0
    return int(windows.test[0]) - windows.first_day


class CalendarUse(NamedTuple):
    """A version's calendar terms in its run: the manifest block, the windows of the series as sold
    (what the scores are in) and each day's factor over those windows' days."""

    block: dict[str, Any]
    sold: CategoryWindows
    factors: FloatArray

    @classmethod
    def of(
        cls, calendar: SeriesCalendar, windows: CategoryWindows, sold: CategoryWindows
    ) -> CalendarUse | None:
        """None without calendar terms (the windows are then the series as sold)."""
        if calendar.block is None:
            return None
        factors = np.concatenate([np.ones(windows.first_day), calendar.factors])
        return cls(calendar.block, sold, factors)


def category_windows(series: pd.Series, settings: Settings) -> CategoryWindows:
    """The windows a category trains on: the full model's when it has the days the networks need,
    else a short history's (`make_short_windows`: a classical-only version, `fallback_of`), which
    raises `ShortHistoryError` below `training.min_history_days`."""
    size, split = settings.window.size, settings.split
    try:
        return make_category_windows(series, size, split)
    except InsufficientHistoryError:
        return make_short_windows(series, size, split, settings.training.min_history_days)


def fallback_of(windows: CategoryWindows, serving: CategoryWindows, settings: Settings) -> Fallback | None:
    """What a version of `windows` (served: `serving`) serves instead of the full model, and why
    (None: the full model)."""
    if not windows.short_history:
        return None
    days = len(windows.values) - windows.first_day
    needed = minimum_days(windows.window_size, settings.split)
    calibrated = len(serving.val) + (len(serving.train) if settings.forecast.interval_history else 0)
    return Fallback(
        kind="classical_only",
        reason=f"{days} days of history; the networks need {needed} (window {windows.window_size} + split): "
        "the weekly-profile forecast serves alone, its level from the days since the first sale, "
        f"its intervals calibrated on only {calibrated} days (wide, and less sure than a full model's)",
    )


def _unchanged(settings: Settings, change: CategoryChange) -> CategoryResult:
    """The result of a category `only_changed` skipped: its latest version stays."""
    folder = version_dir(settings, change.category, str(change.latest))
    return CategoryResult(
        category=change.category, status="unchanged", version=change.latest, artifact_dir=str(folder)
    )


def _train_category(
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
    version, staging = _claim_version(settings, category)
    serving = windows.for_serving(settings.split)
    run: RunLog | None = None
    fallback = fallback_of(windows, serving, settings)
    try:
        run = tracker.start_run(category, version)
        _log_start(run, settings, windows, serving, data_info, version, fallback)
        histories = Histories.start(run, category, version, settings, listener)
        if fallback is not None:
            shared = None  # its model holds no network, shared or its own
            fits = Fits(
                fit_classical_only(windows, settings), fit_classical_only(serving, settings), histories
            )
        else:
            fits = _fit(windows, serving, sales, settings, histories, shared)
        run.log_params(_fit_params("evaluation", fits.evaluation) | _fit_params("served", fits.served))
        served_model = _export(fits.served, staging)
        evaluation_model = as_forecaster(fits.evaluation, fits.evaluation.normalization())
        intervals, evaluation_intervals = _calibrate(
            served_model, evaluation_model, windows, serving, settings
        )
        sold = windows if calendar is None else calendar.sold
        served = _compare(settings, sold, compare_version, version) if compare_version else None
        metrics, forecasts = evaluate_version(
            windows,
            evaluation_model,
            evaluation_intervals,
            served,
            version,
            sold=None if calendar is None else (calendar.sold, calendar.factors),
        )
        manifest = _manifest(
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
        _log_results(run, metrics, staging)
        final = version_dir(settings, category, version)
        staging.replace(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if run is not None:
            run.finish(succeeded=False)
        raise
    _log_finished(category, version, fits.histories, metrics)
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


def _log_start(
    run: RunLog,
    settings: Settings,
    windows: CategoryWindows,
    serving: CategoryWindows,
    data_info: Mapping[str, str],
    version: str,
    fallback: Fallback | None,
) -> None:
    logger.info(
        "training started category=%s version=%s days=%d train=%d val=%d test=%d served_train=%d fallback=%s",
        windows.category,
        version,
        len(windows.values) - windows.first_day,
        len(windows.train),
        len(windows.val),
        len(windows.test),
        len(serving.train),
        fallback.kind if fallback is not None else "none",
    )
    if fallback is not None:
        logger.warning(
            "classical-only fallback category=%s version=%s reason=%s",
            windows.category,
            version,
            fallback.reason,
        )
        run.set_tags({"salescast.fallback": fallback.kind})
    run.log_params(_run_params(settings, windows, serving, data_info, version, fallback))


class Histories(NamedTuple):
    """The per-epoch losses of a category's two fits."""

    evaluation: LossHistory
    served: LossHistory

    @classmethod
    def start(
        cls, run: RunLog, category: str, version: str, settings: Settings, listener: Listener
    ) -> Histories:
        epochs = settings.training.max_epochs
        return cls(
            LossHistory(run, category, version, epochs, listener, "evaluation"),
            LossHistory(run, category, version, epochs, listener, "serving"),
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


def _log_results(run: RunLog, metrics: VersionMetrics, staging: Path) -> None:
    """The test scores, coverage and every file of the version to MLflow; the run succeeded."""
    run.log_metrics(flatten_metrics(metrics.test))
    run.log_metrics({f"test_coverage_{level}": value for level, value in metrics.coverage.items()})
    run.log_artifacts(staging)
    run.finish(succeeded=True)


def _log_finished(category: str, version: str, histories: Histories, metrics: VersionMetrics) -> None:
    logger.info(
        "training finished category=%s version=%s epochs=%d/%d rmse=%.2f naive_rmse=%.2f "
        "seasonal_naive_rmse=%.2f coverage=%s",
        category,
        version,
        len(histories.evaluation.val_loss),
        len(histories.served.val_loss),
        metrics.rmse("model"),
        metrics.rmse("naive"),
        metrics.rmse("seasonal_naive"),
        ",".join(f"{level}:{value:.0f}%" for level, value in metrics.coverage.items()),
    )


class LossHistory(Callback):
    """Per-epoch train/val loss: kept for the plot, sent to MLflow, logged as one progress line."""

    def __init__(
        self,
        run: RunLog,
        category: str,
        version: str,
        max_epochs: int,
        listener: Listener = _ignore,
        phase: TrainingPhase = "serving",
    ) -> None:
        self.run = run
        self.category = category
        self.version = version
        self.max_epochs = max_epochs
        self.listener = listener
        self.phase = phase
        self.prefix = "" if phase == "evaluation" else "served_"
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        train_loss = float(metrics["train_loss"])
        val_loss = float(metrics["val_loss"]) if "val_loss" in metrics else math.nan
        self.run.log_metrics(
            {f"{self.prefix}train_loss": train_loss, f"{self.prefix}val_loss": val_loss},
            step=trainer.current_epoch + 1,
        )
        self._record(train_loss, val_loss)

    def replay(self, curve: LossCurve) -> None:
        """Take the epochs of a fit made elsewhere (the shared networks') as this fit's: one MLflow
        batch for all of them, then the progress lines and events as if they had run here."""
        self.run.log_metric_history(
            {f"{self.prefix}train_loss": curve.train_loss, f"{self.prefix}val_loss": curve.val_loss}
        )
        for train_loss, val_loss in zip(curve.train_loss, curve.val_loss, strict=True):
            self._record(train_loss, val_loss)

    def _record(self, train_loss: float, val_loss: float) -> None:
        self.train_loss.append(train_loss)
        self.val_loss.append(val_loss)
        epoch = len(self.train_loss)
        logger.info(
            "epoch category=%s version=%s phase=%s epoch=%d/%d train_loss=%.4f val_loss=%.4f",
            self.category,
            self.version,
            self.phase,
            epoch,
            self.max_epochs,
            train_loss,
            val_loss,
        )
        self.listener(
            CategoryProgress(
                category=self.category,
                state="training",
                version=self.version,
                phase=self.phase,
                epoch=epoch,
                max_epochs=self.max_epochs,
                train_loss=train_loss,
                val_loss=val_loss if math.isfinite(val_loss) else None,
            )
        )


def _compare(
    settings: Settings, windows: CategoryWindows, served_version: str, version: str
) -> tuple[str, FloatArray | str]:
    try:
        return served_version, served_forecast(settings, windows, served_version)
    except TrainingError as exc:
        logger.warning(
            "comparison skipped category=%s version=%s served_version=%s error=%s",
            windows.category,
            version,
            served_version,
            exc,
        )
        return served_version, str(exc)


def served_forecast(settings: Settings, windows: CategoryWindows, version: str) -> FloatArray:
    """Test-day forecasts (sales units) of an existing version, when that is a fair comparison.

    A version that saw none of the test days is run on them (its own model.pt and manifest). One that
    saw them — learned from them, or early-stopped and calibrated on them (its validation tail) —
    would look better than it is: it is compared by its own held-out test forecasts instead when they
    cover exactly these days of the same data, else not at all.
    """
    folder = version_dir(settings, windows.category, version)
    test_dates = windows.target_dates("test")
    try:
        manifest = read_manifest(folder)
        if manifest.last_date < test_dates[0].date():
            model = load_model(folder / MODEL_FILE)
            block = manifest.calendar.model_dump(mode="json") if manifest.calendar is not None else None
            factors = series_factors(block, windows.dates)
            values = adjust(windows.values, factors, block["floor"]) if block is not None else windows.values
            inputs = window_inputs(values, windows.test, manifest.window_size)
            forecast = as_forecaster(model, served_normalization(manifest))(inputs)
            return forecast * factors[windows.test]
        backtest = read_metrics(folder).backtest
    except (OSError, ValueError, ContractError, RuntimeError) as exc:
        raise TrainingError(
            f"cannot score version {version!r} of {windows.category!r} on the new test days ({folder}): {exc}"
        ) from exc
    same_days = backtest is not None and backtest.dates == [day.date() for day in test_dates]
    if backtest is None or not same_days or not np.allclose(backtest.actual, windows.targets("test")):
        raise TrainingError(
            f"version {version!r} of {windows.category!r} saw the new test days (its data ran until "
            f"{manifest.last_date}) and was not evaluated on the same days, so it cannot be compared fairly"
        )
    return np.asarray(backtest.forecasts["model"], dtype=np.float64)


def _manifest(
    windows: CategoryWindows,
    serving: CategoryWindows,
    settings: Settings,
    data_info: Mapping[str, str],
    version: str,
    intervals: IntervalCalibration,
    normalization: WindowNormalization,
    shared_network: SharedNetwork | None = None,
    fallback: Fallback | None = None,
    classical: ClassicalPart | None = None,
    calendar: Mapping[str, Any] | None = None,
) -> VersionManifest:
    test = windows.target_dates("test")
    return VersionManifest(
        category=windows.category,
        slug=category_slug(windows.category),
        version=version,
        window_size=windows.window_size,
        mean=serving.stats.mean,
        std=serving.stats.std,
        fill_policy=settings.data.fill_policy,
        train_start=_day(serving.train_start),
        train_end=_day(serving.train_end),
        last_date=_day(windows.dates[-1]),
        data_file=data_info["data_file"],
        data_sha256=data_info["data_sha256"],
        dataset_id=data_info.get("dataset_id"),
        format_version=FORMAT_VERSION,
        model_input="normalized",
        normalization=normalization,
        max_horizon=settings.forecast.max_horizon,
        intervals=intervals,
        evaluation=Evaluation(
            train_start=_day(windows.train_start),
            train_end=_day(windows.train_end),
            test_start=_day(test[0]),
            test_end=_day(test[-1]),
        ),
        shared_network=shared_network,
        series_sha256=data_info.get("series_sha256"),
        fallback=fallback,
        classical=classical,
        calendar=CalendarTerms.model_validate(calendar) if calendar is not None else None,
    )


def _run_params(
    settings: Settings,
    windows: CategoryWindows,
    serving: CategoryWindows,
    data_info: Mapping[str, str],
    version: str,
    fallback: Fallback | None,
) -> dict[str, Any]:
    return {
        **{f"model.{key}": value for key, value in settings.model.model_dump().items()},
        **{f"training.{key}": value for key, value in settings.training.model_dump().items()},
        **{f"calendar.{key}": value for key, value in settings.calendar.model_dump().items()},
        "data.holiday_country": settings.data.holiday_country,
        "window_size": windows.window_size,
        "split.train": settings.split.train,
        "split.val": settings.split.val,
        "fill_policy": settings.data.fill_policy,
        "category": windows.category,
        "version": version,
        "train_start": _day(windows.train_start),
        "train_end": _day(windows.train_end),
        "served_train_end": _day(serving.train_end),
        "forecast.max_horizon": settings.forecast.max_horizon,
        "forecast.interval_scale": settings.forecast.interval_scale,
        "forecast.interval_history": settings.forecast.interval_history,
        "fallback": fallback.kind if fallback is not None else "none",
        **({"fallback_reason": fallback.reason} if fallback is not None else {}),
        **data_info,
    }


def _fit_params(prefix: str, forecaster: WindowForecaster) -> dict[str, Any]:
    """What a fit chose: the classical part's method and parameters (smoothing, profile shrink,
    anchor weight; TSB's smoothings), and its share of the blend."""
    classical = describe_classical(forecaster.classical, forecaster.classical_weight)
    return {
        f"{prefix}.classical_method": classical.method,
        **{f"{prefix}.classical_{name}": value for name, value in classical.parameters.items()},
        f"{prefix}.classical_weight": forecaster.classical_weight,
    }


def _claim_version(settings: Settings, category: str) -> tuple[str, Path]:
    """A fresh version later than every existing one, claimed by creating its `.tmp-<version>` folder.

    Creating the staging folder is atomic, so two trainings of one category never share a version;
    a clash within the same second waits for the next one.
    """
    newest = latest_version(settings, category)
    deadline = time.monotonic() + _VERSION_WAIT_S
    while True:
        version = new_version()
        staging = category_dir(settings, category) / f".tmp-{version}"
        if (newest is None or version > newest) and not version_dir(settings, category, version).exists():
            staging.parent.mkdir(parents=True, exist_ok=True)
            try:
                staging.mkdir()
            except FileExistsError:
                pass
            else:
                return version, staging
        if time.monotonic() > deadline:
            raise TrainingError(
                f"cannot name a new version of {category!r}: the newest one ({newest}) is not older than "
                f"the clock's {version}; check the system clock or remove that version"
            )
        time.sleep(0.2)


def _day(stamp: Any) -> str:
    return str(np.datetime_as_string(np.datetime64(stamp, "D")))
