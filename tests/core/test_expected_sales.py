"""The generators' expected sales: what their days are drawn around, from the very draws of a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.expected_sales import ExpectedSales
from core.multiyear_sample import generate_multiyear_sample, multiyear_expected_sales
from core.retailer_sample import generate_retailer_sample, retailer_expected_sales
from core.sample_data import SampleError, expected_sales, generate_sample

SEED, START = 11, "2022-01-01"


def daily(frame: pd.DataFrame, days: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Each category's sales of every generated day (0 on days without a transaction)."""
    frame = frame.assign(Date=pd.to_datetime(frame["Date"]))
    table = frame.pivot_table(index="Date", columns="Product Category", values="Total Amount", aggfunc="sum")
    table = table.reindex(days, fill_value=0.0).fillna(0.0)
    return {str(name): table[name].to_numpy(dtype=np.float64) for name in table.columns}


def test_the_level_known_days_ahead_decays_toward_its_mean() -> None:
    level = np.array([0.0, 0.5, -0.2, 0.1])
    sales = ExpectedSales(np.full(4, 100.0), level, persistence=0.5, innovation_sd=0.2)
    # one day ahead: the day before's level × 0.5, plus half the innovation's variance
    assert sales.at(1) == pytest.approx(100.0 * np.exp(0.5 * np.array([0.0, 0.0, 0.5, -0.2]) + 0.02))
    two = 0.2**2 * (1 + 0.25) / 2
    assert sales.at(2) == pytest.approx(100.0 * np.exp(0.25 * np.array([0.0, 0.0, 0.0, 0.5]) + two))
    assert ExpectedSales(np.full(4, 3.0), np.zeros(4), extra=np.ones(4)).at(7) == pytest.approx(
        np.full(4, 4.0)
    )
    with pytest.raises(ValueError, match="at least 1"):
        sales.at(0)


@pytest.mark.parametrize("profile", ["default", "store", "shop"])
def test_the_sample_profiles_sell_what_they_are_expected_to(profile: str) -> None:
    """Over four years of six seeds the days' sales add up to the expectation (one seed's bursty
    categories stray by a few percent), and it beats any forecast from the sales alone: a 14-day
    mean misses by more."""
    ratios = []
    for seed in range(SEED, SEED + 6):
        days, expected = expected_sales(seed, START, 4.0, profile=profile)  # type: ignore[arg-type]
        sold = daily(generate_sample(seed, START, 4.0, profile=profile), days)  # type: ignore[arg-type]
        assert set(expected) == set(sold)
        ratios += [sales.sum() / expected[name].at(1).sum() for name, sales in sold.items()]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.025)
    for name, sales in sold.items():
        mean = expected[name].at(1)
        ma14 = pd.Series(sales).rolling(14).mean().shift(1).to_numpy()
        scored = slice(30, None)
        optimum = np.sqrt(np.mean((mean[scored] - sales[scored]) ** 2))
        assert optimum < np.sqrt(np.mean((ma14[scored] - sales[scored]) ** 2)), name


def test_the_store_closes_on_sundays_and_holidays_and_the_expectation_knows_it() -> None:
    days, expected = expected_sales(SEED, START, 1.0, profile="store")
    sundays = days.dayofweek == 6
    for sales in expected.values():
        assert np.all(sales.at(1)[sundays] == 0.0)
        holidays = ((days.month == 12) & (days.day == 25)) | ((days.month == 1) & (days.day == 1))
        assert np.all(sales.at(1)[~sundays & ~holidays] > 0.0)


def test_the_level_known_a_week_ahead_tells_less_than_the_day_before() -> None:
    days, expected = expected_sales(SEED, START, 4.0)
    sold = daily(generate_sample(SEED, START, 4.0), days)
    for name, sales in sold.items():
        one, seven = (np.mean((expected[name].at(h)[30:] - sales[30:]) ** 2) for h in (1, 7))
        assert one < seven, name


def test_the_retailer_and_multiyear_expectations_replay_their_generators() -> None:
    ratios = []
    for seed in range(SEED, SEED + 6):
        days, expected = retailer_expected_sales(seed, START, 3.0, categories=8)
        sold = daily(generate_retailer_sample(seed, START, 3.0, 8), days)
        ratios += [sales.sum() / expected[name].at(1).sum() for name, sales in sold.items()]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.025)
    launched = [name for name in expected if name.startswith("Launched")]
    assert launched and all(expected[name].at(1)[0] == 0.0 for name in launched)
    days, expected = multiyear_expected_sales(SEED, START, 3.0)
    sold = daily(generate_multiyear_sample(SEED, START, 3.0), days)
    for name, sales in sold.items():
        assert sales.sum() / expected[name].at(1).sum() == pytest.approx(1.0, abs=0.04), name


def test_profiles_with_their_own_generator_are_named() -> None:
    with pytest.raises(SampleError, match="not 'retailer'"):
        expected_sales(SEED, START, 1.0, profile="retailer")
