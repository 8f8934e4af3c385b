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
a failing one is recorded in its `CategoryResult` and the others still train. A category's own
steps are `training.category_training`'s (a version folder appears only complete: everything is
written to `.tmp-<version>` and renamed at the end), what it trains from `training.run_inputs`'s.
With `training.executor: ray` each category's work is a Ray task (`training.ray_executor`); the
shared networks are still trained once here, and its MLflow run is recorded in the task and written
here (`training.recorded_run`), so both executors leave the same versions and runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from core.artifacts import version_dir
from core.contracts.job_progress import EVERY_TRAINING, CategoryProgress
from core.contracts.job_result import CategoryResult
from core.sales_data import file_sha256, load_daily_sales
from core.sample_data import ensure_sample_data
from core.settings import Settings
from training.category_training import CategoryWork, failed_result, train_category
from training.changes import CategoryChange, category_changes
from training.errors import TrainingError
from training.loss_history import Listener, ignore_progress
from training.recorded_run import RecordingTracker, RunOpener, RunRecord, replay
from training.run_inputs import TrainedParts, calendar_of, file_calendar_of, trained_parts
from training.shared import LossCurve, load_shared_networks, train_shared_networks
from training.tracking import Tracker, mlflow_artifact_root

logger = logging.getLogger(__name__)


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
    listener: Listener = ignore_progress,
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
    `listener` hears every category start, epoch and end (the job's progress file), and the shared
    fit's epochs once for all of them (`EVERY_TRAINING`). `dataset_id`
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
            else _announced(category, trained_parts(sales.get(category), settings), settings)
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
    file_terms = file_calendar_of(sales, settings)
    calendars = {name: calendar_of(series, settings, file_terms) for name, series in sales.items()}
    adjusted = {name: calendar.adjusted for name, calendar in calendars.items()}
    shared = (
        saved_shared
        if saved_shared is not None
        else train_shared_networks(adjusted, settings, datetime.now(UTC), _shared_epochs(listener, settings))
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
                yield failed_result(category, output), 0.0
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
        return failed_result(result.category, exc)
    if result.status == "succeeded" and visible is None:
        return failed_result(
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


def _announced(category: str, parts: TrainedParts, settings: Settings) -> CategoryProgress:
    """A category starting to train: its epoch limit when it trains networks; a short history's that
    it trains its classical part only, so that no one waits for its epochs."""
    if parts == "networks":
        return CategoryProgress(category=category, state="training", max_epochs=settings.training.max_epochs)
    return CategoryProgress(
        category=category, state="training", classical_only=True if parts == "classical" else None
    )


def _shared_epochs(listener: Listener, settings: Settings) -> Callable[[LossCurve], None]:
    """Tell the listener each epoch of the shared fit as it ends, once for every category still
    training (`EVERY_TRAINING`): the longest phase of a large run, otherwise silent until each
    category replays it."""

    def heard(curve: LossCurve) -> None:
        val_loss = curve.val_loss[-1]
        listener(
            CategoryProgress(
                category=EVERY_TRAINING,
                state="training",
                phase=curve.phase,
                epoch=len(curve.train_loss),
                max_epochs=settings.training.max_epochs,
                train_loss=curve.train_loss[-1],
                val_loss=val_loss if math.isfinite(val_loss) else None,
            )
        )

    return heard


def _unchanged(settings: Settings, change: CategoryChange) -> CategoryResult:
    """The result of a category `only_changed` skipped: its latest version stays."""
    folder = version_dir(settings, change.category, str(change.latest))
    return CategoryResult(
        category=change.category, status="unchanged", version=change.latest, artifact_dir=str(folder)
    )
