"""A scripted version with calendar terms, archived: one holiday (Christmas 2024 sells a tenth of a
normal day) and nothing else, so a forecast's factor is easy to check by hand."""

from __future__ import annotations

from typing import Any

from core.contracts.manifest import CalendarTerms, read_manifest, write_manifest
from core.settings import Settings
from serving.archive import ArchiveInfo, archive_version
from tests.handlers.scripted_artifacts import calibration, write_scripted_version

HOLIDAY = "2024-12-25"
HOLIDAY_FACTOR = 0.1
CALENDAR_BLOCK: dict[str, Any] = {
    "country": "US",
    "holidays": {HOLIDAY: HOLIDAY_FACTOR},
    "holidays_until": "2025-12-31",
    "yearly": None,
    "month_end": None,
    "floor": 0.2,
}
CALENDAR_SUMMARY = {
    "country": "US",
    "holidays": 1,
    "holidays_until": "2025-12-31",
    "yearly": False,
    "month_end": False,
}


def calendar_archive(
    settings: Settings,
    category: str,
    version: str,
    *,
    calendar: bool = True,
    seed: int = 0,
    format_version: int = 2,
) -> ArchiveInfo:
    """A window-level scripted version of `category` forecasting 2 days with intervals, with
    `CALENDAR_BLOCK` in its norm_stats.json (or without calendar terms), archived in the model store.
    Format 2 by default: its model takes no weekday, so a date moves only the calendar factors (3:
    the model also gets the weekday, `tests.handlers.scripted_artifacts.TinyScaledForecaster`)."""
    folder = write_scripted_version(
        settings.paths.artifacts,
        category,
        version,
        seed=seed,
        kind="window_level",
        max_horizon=2,
        intervals=calibration(2),
        format_version=format_version,
    )
    if calendar:
        manifest = read_manifest(folder)
        terms = CalendarTerms.model_validate(CALENDAR_BLOCK)
        write_manifest(folder, manifest.model_copy(update={"calendar": terms}))
    return archive_version(settings, category, version)
