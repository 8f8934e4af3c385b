"""What a version leaves behind besides its model: a claimed version name and staging folder, its
manifest, and its MLflow run's parameters, results and log lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.artifacts import category_dir, latest_version, new_version, version_dir
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
)
from core.contracts.metrics import VersionMetrics
from core.settings import Settings
from core.slugs import category_slug
from training.classical import describe_classical
from training.errors import TrainingError
from training.forecaster import WindowForecaster
from training.loss_history import Histories
from training.recorded_run import RunLog
from training.tracking import flatten_metrics
from training.windows import CategoryWindows

logger = logging.getLogger(__name__)

_VERSION_WAIT_S = 3.0  # longest wait for the clock to pass the newest existing version


def claim_version(settings: Settings, category: str) -> tuple[str, Path]:
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


def version_manifest(
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
    """The version's `manifest.json`: what the handler needs to serve it, and where it came from."""
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


def log_start(
    run: RunLog,
    settings: Settings,
    windows: CategoryWindows,
    serving: CategoryWindows,
    data_info: Mapping[str, str],
    version: str,
    fallback: Fallback | None,
) -> None:
    """Log the run's start (and a short history's fallback) and record the run's parameters in MLflow."""
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
    run.log_params(run_params(settings, windows, serving, data_info, version, fallback))


def run_params(
    settings: Settings,
    windows: CategoryWindows,
    serving: CategoryWindows,
    data_info: Mapping[str, str],
    version: str,
    fallback: Fallback | None,
) -> dict[str, Any]:
    """The MLflow parameters of a category's run: the settings that shaped it, its days and its data."""
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
        "forecast.interval_level_exponent": settings.forecast.interval_level_exponent,
        "fallback": fallback.kind if fallback is not None else "none",
        **({"fallback_reason": fallback.reason} if fallback is not None else {}),
        **data_info,
    }


def fit_params(prefix: str, forecaster: WindowForecaster) -> dict[str, Any]:
    """What a fit chose: the classical part's method and parameters (smoothing, profile shrink,
    anchor weight; TSB's smoothings), and its share of the blend."""
    classical = describe_classical(forecaster.classical, forecaster.classical_weight)
    return {
        f"{prefix}.classical_method": classical.method,
        **{f"{prefix}.classical_{name}": value for name, value in classical.parameters.items()},
        f"{prefix}.classical_weight": forecaster.classical_weight,
    }


def log_results(run: RunLog, metrics: VersionMetrics, staging: Path) -> None:
    """The test scores, coverage and every file of the version to MLflow; the run succeeded."""
    run.log_metrics(flatten_metrics(metrics.test))
    run.log_metrics({f"test_coverage_{level}": value for level, value in metrics.coverage.items()})
    run.log_artifacts(staging)
    run.finish(succeeded=True)


def log_finished(category: str, version: str, histories: Histories, metrics: VersionMetrics) -> None:
    """One log line with the finished version's epochs, test RMSE against the naive ones, and coverage."""
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


def _day(stamp: Any) -> str:
    return str(np.datetime_as_string(np.datetime64(stamp, "D")))
