"""A version trained with calendar terms: it learns from the adjusted series, is scored in sales as
sold, writes its factors to the manifest, and serves them through the handler's steps."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.artifacts import MODEL_FILE
from core.contracts.manifest import read_manifest
from core.contracts.metrics import read_metrics
from core.sales_data import load_daily_sales
from core.sample_data import write_sample
from core.settings import Settings
from handlers import forecast_steps as steps
from handlers import request_parsing
from handlers.calendar_terms import day_factor
from tests.conftest import make_test_settings
from training.pipeline import train_categories

CATEGORY = "Toys"


@pytest.fixture(scope="module")
def holiday_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """Toys of the multi-year store (closed on Jan 1 and Dec 25, a third of a day on other public
    holidays), 15 months: holidays, no yearly term (under two years)."""
    root = tmp_path_factory.mktemp("calendar-run")
    data = write_sample(root / "multiyear.csv", 11, "2023-01-01", 1.25, profile="multiyear")
    settings = make_test_settings(root, data={"path": str(data), "categories": [CATEGORY]})
    [result] = train_categories([CATEGORY], "calendar", settings)
    assert result.status == "succeeded", result.error
    assert result.artifact_dir is not None
    return settings, Path(result.artifact_dir)


def test_the_manifest_holds_the_holiday_factors(holiday_run: tuple[Settings, Path]) -> None:
    _, folder = holiday_run
    calendar = read_manifest(folder).calendar
    assert calendar is not None and calendar.country == "US"
    assert calendar.yearly is None  # 15 months: not enough for a yearly term
    assert calendar.holidays[date(2023, 12, 25)] < 0.3  # closed
    assert 0.15 < calendar.holidays[date(2023, 7, 4)] < 0.7  # a third of a normal day
    assert date(2026, 12, 25) in calendar.holidays  # the years ahead are known too


def test_scores_are_in_sales_as_sold(holiday_run: tuple[Settings, Path]) -> None:
    settings, folder = holiday_run
    metrics = read_metrics(folder)
    assert metrics.backtest is not None
    sold = load_daily_sales(settings.data)[CATEGORY]
    days = pd.DatetimeIndex([pd.Timestamp(day) for day in metrics.backtest.dates])
    assert metrics.backtest.actual == pytest.approx(sold.loc[days].to_list())
    model = np.asarray(metrics.backtest.forecasts["model"])
    assert np.all(np.isfinite(model)) and model.min() >= 0


def test_served_with_a_date_the_holiday_is_forecast_low(holiday_run: tuple[Settings, Path]) -> None:
    """From the data's last 56 days, the forecast for a holiday vs the same window dated a week
    earlier (a normal day): the factor is applied, and the answer says so."""
    settings, folder = holiday_run
    stats = steps.load_norm_stats(folder / steps.NORM_STATS_FILE)
    model = steps.load_model(folder / MODEL_FILE)
    window = load_daily_sales(settings.data)[CATEGORY].iloc[-stats["window_size"] :].to_list()
    christmas_eve = date(2023, 12, 24)  # the day before Christmas Day, closed

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        batch = request_parsing.parse_batch([{"body": body}], stats)
        paths = steps.forecast_paths(model, batch.windows, stats, batch.horizon)
        [(status, result)] = steps.answer_batch(batch, paths, stats)
        assert status == 200, result
        return result

    holiday = answer({"sales": window, "last_date": christmas_eve.isoformat()})
    normal = answer({"sales": window, "last_date": (christmas_eve - timedelta(days=7)).isoformat()})
    plain = answer({"sales": window})
    assert day_factor(stats["calendar"], date(2023, 12, 25)) < 0.3
    assert holiday["calendar"]["applied"] is True and holiday["calendar"]["last_date"] == "2023-12-24"
    assert "closed on 2023-12-25" in holiday["calendar"]["note"]  # a factor of 0 says why
    assert plain["calendar"]["applied"] is False and "last_date" in plain["calendar"]["note"]
    assert float(holiday["prediction"]) < 0.5 * float(normal["prediction"])
