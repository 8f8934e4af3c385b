"""`python -m serving.bulk_forecast` on the session's real archives: one item's failure (too little
history, a horizon beyond its version, an archive that is missing or not a zip) is its own, the
others are answered, in the job's order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.contracts.bulk_forecast import BulkForecastJob, BulkItem, decode_answer, encode_job
from core.contracts.manifest import Fallback, read_manifest, write_manifest
from core.sales_data import load_daily_sales
from core.settings import Settings
from core.slugs import category_slug
from serving.archive import ArchiveInfo, archive_version
from serving.bulk_forecast import run_job
from tests.conftest import make_test_settings
from tests.handlers.reference import reference_next_day
from tests.handlers.scripted_artifacts import write_scripted_version
from tests.serving.calendar_archive import HOLIDAY_FACTOR, calendar_archive

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def history(test_settings: Settings) -> dict[str, Any]:
    return load_daily_sales(test_settings.data)


def item(archives: dict[str, ArchiveInfo], history: dict[str, Any], category: str, days: int) -> BulkItem:
    values = [float(value) for value in history[category].iloc[-days:]]
    return BulkItem(category=category, archive=str(archives[category].path), sales=values)


def test_each_item_fails_alone(
    model_store_archives: dict[str, ArchiveInfo],
    history: dict[str, Any],
    test_settings: Settings,
    tmp_path: Path,
) -> None:
    window = test_settings.window.size
    not_a_zip = tmp_path / "clothing-20250101.120000.mar"
    not_a_zip.write_text("not a zip", encoding="utf-8")
    job = BulkForecastJob(
        horizon=2,
        levels=[80],
        items=[
            item(
                model_store_archives, history, "Beauty", 400
            ),  # longer than the window: its last days are read
            item(model_store_archives, history, "Electronics", window - 1),
            BulkItem(
                category="Toys", archive=str(tmp_path / "toys-20250101.120000.mar"), sales=[1.0] * window
            ),
            BulkItem(category="Clothing", archive=str(not_a_zip), sales=[1.0] * window),
            item(model_store_archives, history, "Electronics", window),
        ],
    )
    outcomes = run_job(job).outcomes
    assert [(outcome.category, outcome.status) for outcome in outcomes] == [
        ("Beauty", 200),
        ("Electronics", 422),
        ("Toys", 503),
        ("Clothing", 503),
        ("Electronics", 200),
    ]
    beauty = outcomes[0]
    assert beauty.model_version == model_store_archives["Beauty"].version and beauty.window_size == window
    assert beauty.forecast is not None and [step.step for step in beauty.forecast] == [1, 2]
    assert [interval.level for interval in beauty.forecast[0].intervals] == [80]
    assert (
        outcomes[1].error == f"Electronics has {window - 1} days of history; the served model needs {window}"
    )
    assert outcomes[2].error == f"archive toys-20250101.120000.mar is not in the model store {tmp_path}"
    assert outcomes[3].error is not None and outcomes[3].error.startswith(
        "archive clothing-20250101.120000.mar cannot be read"
    )


def test_a_horizon_beyond_the_version_is_the_items_422(
    model_store_archives: dict[str, ArchiveInfo], history: dict[str, Any], test_settings: Settings
) -> None:
    job = BulkForecastJob(
        horizon=366, items=[item(model_store_archives, history, "Beauty", test_settings.window.size)]
    )
    [outcome] = run_job(job).outcomes
    assert outcome.status == 422 and outcome.error is not None
    assert outcome.error.startswith(f"Beauty model {model_store_archives['Beauty'].version}: horizon must be")


def test_the_module_reads_stdin_and_writes_stdout(
    model_store_archives: dict[str, ArchiveInfo], history: dict[str, Any], test_settings: Settings
) -> None:
    job = BulkForecastJob(
        horizon=1, items=[item(model_store_archives, history, "Clothing", test_settings.window.size)]
    )
    run = subprocess.run(
        [sys.executable, "-m", "serving.bulk_forecast"],
        input=encode_job(job),
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert decode_answer(run.stdout).outcomes == run_job(job).outcomes
    bad = subprocess.run(
        [sys.executable, "-m", "serving.bulk_forecast"], input=b"{}", capture_output=True, timeout=120
    )
    assert bad.returncode == 2 and b"not a valid BulkForecastJob" in bad.stderr


def test_a_classical_only_version_forecasts_a_history_shorter_than_its_window(tmp_path: Path) -> None:
    """A category launched less than a window ago: the days before its history are the zeros they
    were, exactly as if the caller had sent them."""
    settings = make_test_settings(tmp_path)
    folder = write_scripted_version(
        settings.paths.artifacts, "Launched", "20250101.000000", seed=3, max_horizon=2
    )
    launched = read_manifest(folder).model_copy(
        update={
            "fallback": Fallback(kind="classical_only", reason="20 days of history; the networks need 16")
        }
    )
    write_manifest(folder, launched)
    archive = str(archive_version(settings, "Launched", "20250101.000000").path)
    window = launched.window_size
    short = [float(120 + day) for day in range(window - 6)]
    answer = run_job(
        BulkForecastJob(
            horizon=2,
            levels=[80],
            items=[
                BulkItem(category="Launched", archive=archive, sales=short),
                BulkItem(category="Launched", archive=archive, sales=[0.0] * 6 + short),
            ],
        )
    )
    first, padded = answer.outcomes
    assert (first.status, padded.status) == (200, 200), answer
    assert first.model_dump() == padded.model_dump()


def test_an_items_last_date_applies_the_versions_calendar_terms(tmp_path: Path) -> None:
    """The gateway sends the history's last day: the bulk forecast applies the calendar terms as the
    handler does (Dec 25 sells a tenth), and says so in the outcome's `calendar`."""
    settings = make_test_settings(tmp_path)
    archive = str(calendar_archive(settings, "Beauty", "20240101.000000").path)
    window = [float(240 + 7 * (day % 5)) for day in range(14)]  # Dec 11..24: no holiday among them
    job = BulkForecastJob(
        horizon=2,
        levels=[80],
        items=[
            BulkItem(category="Beauty", archive=archive, sales=window, last_date="2024-12-24"),
            BulkItem(category="Beauty", archive=archive, sales=window),
        ],
    )
    dated, plain = run_job(job).outcomes
    assert dated.forecast is not None and plain.forecast is not None
    assert dated.forecast[0].prediction == pytest.approx(HOLIDAY_FACTOR * plain.forecast[0].prediction)
    assert dated.forecast[1].prediction == pytest.approx(plain.forecast[1].prediction)
    low, high = dated.forecast[0].intervals[0].lower, dated.forecast[0].intervals[0].upper
    assert (low, high) == pytest.approx(
        (
            HOLIDAY_FACTOR * plain.forecast[0].intervals[0].lower,
            HOLIDAY_FACTOR * plain.forecast[0].intervals[0].upper,
        )
    )
    assert dated.calendar == {"applied": True, "last_date": "2024-12-24", "uses": ["holidays (US)"]}
    assert plain.calendar is not None and plain.calendar["applied"] is False
    assert "send last_date" in str(plain.calendar["note"])


def test_an_items_last_date_gives_a_format_3_model_its_weekday(tmp_path: Path) -> None:
    """A version whose model reads the weekday (format 3) gets it from the item's date, as from the
    handler's: 2024-12-24 is a Tuesday, so Wednesday (2); an item without a date gets none."""
    settings = make_test_settings(tmp_path)
    archive = calendar_archive(settings, "Beauty", "20240101.000000", calendar=False, format_version=3)
    window = [float(240 + 7 * (day % 5)) for day in range(14)]
    job = BulkForecastJob(
        horizon=1,
        levels=[80],
        items=[
            BulkItem(category="Beauty", archive=str(archive.path), sales=window, last_date="2024-12-24"),
            BulkItem(category="Beauty", archive=str(archive.path), sales=window),
        ],
    )
    dated, plain = run_job(job).outcomes
    assert dated.forecast is not None and plain.forecast is not None
    folder = settings.paths.artifacts / category_slug("Beauty") / "20240101.000000"
    assert dated.forecast[0].prediction == pytest.approx(reference_next_day(folder, [window], 2)[0], abs=1e-4)
    assert plain.forecast[0].prediction == pytest.approx(reference_next_day(folder, [window])[0], abs=1e-4)
    assert dated.forecast[0].prediction != pytest.approx(plain.forecast[0].prediction, abs=1e-4)
