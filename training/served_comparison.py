"""A new version's test days scored by an existing version too, only where that comparison is fair."""

from __future__ import annotations

import logging

import numpy as np

from core.artifacts import MODEL_FILE, version_dir
from core.contracts.files import ContractError
from core.contracts.manifest import read_manifest
from core.contracts.metrics import read_metrics
from core.settings import Settings
from handlers.forecast_steps import load_model
from handlers.version_stats import WEEKDAY_FORMAT
from training.calendar import adjust, series_factors
from training.errors import TrainingError
from training.forecaster import as_forecaster, served_normalization
from training.windows import CategoryWindows, FloatArray, window_inputs

logger = logging.getLogger(__name__)


def compare_with_served(
    settings: Settings, windows: CategoryWindows, served_version: str, version: str
) -> tuple[str, FloatArray | str]:
    """(`served_version`, its forecasts of the test days), or with why it cannot be compared in their
    place (logged, not raised: the new version is still saved)."""
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
            reads_weekday = manifest.format_version >= WEEKDAY_FORMAT
            forecaster = as_forecaster(model, served_normalization(manifest), weekdays=reads_weekday)
            forecast = forecaster(inputs, windows.weekdays(windows.test))
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
