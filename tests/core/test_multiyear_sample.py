"""The `multiyear` profile: four years with a November–December peak, a summer dip, public holidays
of the configured country and a Christmas run-up, the same for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.multiyear_sample import public_holidays
from core.sales_data import load_daily_sales
from core.sample_data import PROFILE_YEARS, SampleError, generate_sample, sample_csv_bytes
from core.settings import SettingsError, load_settings

SETTINGS = load_settings(environ={})
CATEGORIES = ["Beauty", "Clothing", "Electronics", "Toys"]
START = "2023-01-01"


def _daily(rows: pd.DataFrame, tmp_path: Path, name: str) -> pd.DataFrame:
    """Daily revenue per category (columns), every day of the sample, zero where nothing sold."""
    path = tmp_path / f"{name}.csv"
    rows.to_csv(path, index=False)
    sales = load_daily_sales(SETTINGS.data.model_copy(update={"fill_policy": "zero"}), path)
    days = pd.date_range(rows["Date"].min(), rows["Date"].max(), freq="D")
    return pd.DataFrame({name: series.reindex(days, fill_value=0.0) for name, series in sales.items()})


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    rows = generate_sample(7, START, PROFILE_YEARS["multiyear"], profile="multiyear")
    return _daily(rows, tmp_path_factory.mktemp("multiyear"), "multiyear")


def _same_weekday_ratio(series: pd.Series, day: pd.Timestamp, skip: pd.DatetimeIndex) -> float:
    """Sales of `day` over the mean of the same weekday 1 and 2 weeks either side (not in `skip`)."""
    around = [day + pd.Timedelta(weeks=k) for k in (-2, -1, 1, 2)]
    around = [d for d in around if d in series.index and d not in skip]
    return float(series[day] / series[around].mean())


def test_deterministic_per_seed_and_country() -> None:
    first = sample_csv_bytes(5, START, 1.0, profile="multiyear")
    assert first == sample_csv_bytes(5, START, 1.0, profile="multiyear")
    assert first != sample_csv_bytes(6, START, 1.0, profile="multiyear")
    assert first != sample_csv_bytes(5, START, 1.0, profile="multiyear", holiday_country="GB")


def test_four_years_of_four_categories(daily: pd.DataFrame) -> None:
    assert PROFILE_YEARS["multiyear"] == 4.0
    assert list(daily.columns) == CATEGORIES
    assert daily.index[0] <= pd.Timestamp("2023-01-02") and daily.index[-1] == pd.Timestamp("2026-12-31")
    assert len(daily) >= 4 * 365
    assert (daily.mean() > 500).all()  # every category sells most days: a series with signal


def test_november_december_clearly_above_the_yearly_mean(daily: pd.DataFrame) -> None:
    for year in range(2023, 2027):
        days = daily[pd.DatetimeIndex(daily.index).year == year]
        peak = days[pd.DatetimeIndex(days.index).month >= 11].mean() / days.mean()
        assert (peak > 1.12).all(), (year, peak.round(2).to_dict())
    overall = daily[pd.DatetimeIndex(daily.index).month >= 11].mean() / daily.mean()
    assert (overall > 1.2).all(), overall.round(2).to_dict()


def test_electronics_dips_in_july_and_august(daily: pd.DataFrame) -> None:
    """The yearly cosine is lowest in June and rises after; only Electronics sells less in July–August
    than in June and September."""
    month = pd.DatetimeIndex(daily.index).month
    dip = daily[month.isin([7, 8])].mean() / daily[month.isin([6, 9])].mean()
    assert dip["Electronics"] < 0.85, dip.round(2).to_dict()
    others = dip.drop("Electronics")
    assert (others > 0.87).all() and dip["Electronics"] < others.min() - 0.08, dip.round(2).to_dict()


def test_public_holidays_sell_less_than_the_same_weekday_around_them(daily: pd.DataFrame) -> None:
    holidays = public_holidays("US", pd.DatetimeIndex(daily.index))
    assert len(holidays) >= 40  # ~11 a year, observed days included
    closed = holidays[
        ((holidays.month == 1) & (holidays.day == 1)) | ((holidays.month == 12) & (holidays.day == 25))
    ]
    assert len(closed) >= 7
    assert (daily.loc[daily.index.isin(closed)] == 0).all().all()  # closed on New Year's and Christmas Day
    for name, series in daily.items():
        ratios = [_same_weekday_ratio(series, day, holidays) for day in holidays.difference(closed)]
        assert np.median(ratios) < 0.5, (name, np.round(ratios, 2))
        assert np.mean(np.array(ratios) < 0.8) > 0.85, (name, np.round(ratios, 2))


def test_the_week_before_christmas_sells_more_than_early_december(daily: pd.DataFrame) -> None:
    ratios = pd.DataFrame(
        {
            year: daily.loc[f"{year}-12-17" : f"{year}-12-23"].mean()
            / daily.loc[f"{year}-12-03" : f"{year}-12-09"].mean()
            for year in range(2023, 2027)
        }
    )
    assert (ratios.mean(axis=1) > 1.25).all(), ratios.round(2)
    assert (ratios > 1.0).all().all(), ratios.round(2)


def test_the_country_decides_the_holidays(tmp_path: Path) -> None:
    """On the days that are public holidays in GB but not in the US (Good Friday, May bank holidays,
    Boxing Day) the GB store sells a fraction of what the US one does."""
    us = _daily(generate_sample(3, START, 2.0, profile="multiyear"), tmp_path, "us").sum(axis=1)
    gb = _daily(generate_sample(3, START, 2.0, profile="multiyear", holiday_country="GB"), tmp_path, "gb")
    days = pd.DatetimeIndex(us.index)
    only_gb = public_holidays("GB", days).difference(public_holidays("US", days))
    assert pd.Timestamp("2023-12-26") in only_gb and len(only_gb) >= 6
    ratios = gb.sum(axis=1)[only_gb] / us[only_gb]
    assert ratios.mean() < 0.6 and ratios.max() < 0.9, ratios.round(2).to_dict()


def test_an_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(SampleError, match="holiday country 'XX'"):
        generate_sample(1, START, 0.5, profile="multiyear", holiday_country="XX")
    with pytest.raises(SettingsError, match="holiday_country"):
        load_settings(environ={"SALESCAST_DATA__HOLIDAY_COUNTRY": "XX"})
    assert load_settings(environ={"SALESCAST_DATA__HOLIDAY_COUNTRY": "DE"}).data.holiday_country == "DE"
