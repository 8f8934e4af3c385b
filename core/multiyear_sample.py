"""A generated multi-year store with yearly seasonality and public holidays (`--profile multiyear`).

Same schema as `core.sample_data` (the Kaggle "Retail Sales Dataset" columns). Four categories sell
around an expected daily count of `base × trend × weekday × yearly season × holidays × slow level`,
drawn as a gamma-mixed Poisson count of transactions (quantity 1–4, lognormal price):

- a weekly pattern (quiet Monday, busy Saturday) shared by every category;
- a yearly season peaking in December, so November–December sell clearly above the yearly mean as
  in real store exports; Electronics also dips in July–August;
- the public holidays of a country (the `holidays` package, `data.holiday_country`): closed on New
  Year's Day and Christmas Day, a fraction of a normal day on every other public holiday (observed
  days included); sales rise over the two weeks before Christmas;
- a gentle linear trend and noise (a slow AR(1) demand level and a day-to-day gamma multiplier).

It exists to measure what yearly and holiday terms add: the folds of `bench accuracy` can span a
year of it (e.g. 12 × 28 days). The same seed, start, years and country give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import holidays
import numpy as np
import pandas as pd

from core.expected_sales import ExpectedSales
from core.retailer_sample import SampleError, assemble_transactions, sample_days

MULTIYEAR_YEARS = 4.0
# Monday..Sunday multipliers (mean 1): the store's week, quiet early on, Saturday the busiest.
_WEEKDAY = np.array([0.80, 0.84, 0.90, 0.96, 1.14, 1.42, 0.94])
_SEASON_PEAK_DAY = 350  # day of year of the yearly cosine's peak (mid-December)
_SUMMER_DIP_DAY = 205  # centre (day of year, late July) of the summer dip...
_SUMMER_DIP_WIDTH = 25.0  # ...and its width (sd in days of the Gaussian dip)
_CLOSED = ((1, 1), (12, 25))  # (month, day) public holidays the store is closed on
_HOLIDAY_FACTOR = 0.35  # share of a normal day sold on any other public holiday
_RUN_UP_DAYS = 14  # Christmas run-up: sales rise linearly over the days before Dec 24...
_CHRISTMAS_EVE_FACTOR = 0.7  # ...Christmas Eve is a short day (× this of the run-up's top)
_LEVEL_AR = 0.9  # day-to-day persistence of the slow demand level (log scale)
_LEVEL_SD = 0.04  # innovation sd of that level; stationary sd ≈ 0.09
_DAY_SHAPE = 12.0  # gamma shape of the day multiplier (sd ≈ 0.29)
_PRICE_SIGMA = 0.25  # sd of a transaction's log price around its category's price point


@dataclass(frozen=True)
class SeasonalCategory:
    """How one category of the multi-year store sells.

    Attributes:
        name: category name written to `Product Category`.
        transactions: mean transactions per day at the start (before the multipliers).
        price: typical unit price; each transaction's price is lognormal around it.
        trend: relative growth per year (0.05 = +5 % a year, linear).
        season: amplitude of the yearly cosine peaking mid-December (0.3 = ±30 %).
        summer_dip: depth of the July–August dip (0.35 = a third less at its centre; 0 = none).
        christmas_lift: extra share sold on Dec 23, reached linearly over the run-up.
    """

    name: str
    transactions: float
    price: float
    trend: float
    season: float
    summer_dip: float
    christmas_lift: float


CATEGORIES = (
    SeasonalCategory("Beauty", 16.0, 38.0, 0.06, 0.20, 0.0, 0.6),
    SeasonalCategory("Clothing", 22.0, 52.0, 0.04, 0.25, 0.0, 0.5),
    SeasonalCategory("Electronics", 9.0, 240.0, 0.08, 0.30, 0.35, 0.9),
    SeasonalCategory("Toys", 12.0, 30.0, 0.03, 0.45, 0.0, 1.4),
)


def public_holidays(country: str, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The public holidays of `country` (ISO code the `holidays` package knows) among `days`."""
    try:
        calendar = holidays.country_holidays(country, years=range(days[0].year, days[-1].year + 1))
    except NotImplementedError:
        raise SampleError(
            f"holiday country {country!r} is unknown to the holidays package (an ISO code such as US, GB, DE)"
        ) from None
    dates = pd.DatetimeIndex(sorted(pd.Timestamp(day) for day in calendar))
    return dates[dates.isin(days)]


def holiday_factors(days: pd.DatetimeIndex, country: str, christmas_lift: float) -> np.ndarray:
    """Day multipliers: 0 on closed holidays, `_HOLIDAY_FACTOR` on the others, the Christmas run-up."""
    factor = np.ones(len(days))
    month, day = days.month.to_numpy(), days.day.to_numpy()
    run_up = (month == 12) & (day >= 24 - _RUN_UP_DAYS) & (day <= 23)
    factor[run_up] += christmas_lift * (day[run_up] - (23 - _RUN_UP_DAYS)) / _RUN_UP_DAYS
    eve = (month == 12) & (day == 24)
    factor[eve] = _CHRISTMAS_EVE_FACTOR * (1.0 + christmas_lift)
    holiday = days.isin(public_holidays(country, days))
    factor[holiday] = _HOLIDAY_FACTOR
    for closed_month, closed_day in _CLOSED:
        factor[holiday & (month == closed_month) & (day == closed_day)] = 0.0
    return factor


def generate_multiyear_sample(
    seed: int, start: str, years: float = MULTIYEAR_YEARS, holiday_country: str = "US"
) -> pd.DataFrame:
    """Transactions of the four categories from `start` for `years`, sorted by date."""
    days = sample_days(start, years, min_days=1)
    frames = [
        _category_rows(category, days, holiday_country, np.random.default_rng([seed, i]))[0]
        for i, category in enumerate(CATEGORIES, start=1)
    ]
    return assemble_transactions(frames, seed)


def multiyear_expected_sales(
    seed: int, start: str, years: float = MULTIYEAR_YEARS, holiday_country: str = "US"
) -> tuple[pd.DatetimeIndex, dict[str, ExpectedSales]]:
    """The generated days and each category's expected sales over them, from the very draws
    `generate_multiyear_sample` makes with the same arguments."""
    days = sample_days(start, years, min_days=1)
    expected = {
        category.name: _category_rows(category, days, holiday_country, np.random.default_rng([seed, i]))[1]
        for i, category in enumerate(CATEGORIES, start=1)
    }
    return days, expected


def expected_transactions(
    category: SeasonalCategory, days: pd.DatetimeIndex, holiday_country: str
) -> np.ndarray:
    """Mean transactions per day before noise: base × trend × weekday × season × holidays."""
    trend = 1.0 + category.trend * np.arange(len(days)) / 365.25
    weekday = _WEEKDAY[days.dayofweek.to_numpy()]
    doy = days.dayofyear.to_numpy()
    season = 1.0 + category.season * np.cos(2 * np.pi * (doy - _SEASON_PEAK_DAY) / 365.25)
    season *= 1.0 - category.summer_dip * np.exp(-0.5 * ((doy - _SUMMER_DIP_DAY) / _SUMMER_DIP_WIDTH) ** 2)
    holiday = holiday_factors(days, holiday_country, category.christmas_lift)
    return np.asarray(category.transactions * trend * weekday * season * holiday, dtype=np.float64)


def _category_rows(
    category: SeasonalCategory, days: pd.DatetimeIndex, holiday_country: str, rng: np.random.Generator
) -> tuple[pd.DataFrame, ExpectedSales]:
    """One category's transactions (Date, order, Gender, Age, Product Category, amounts) and the
    expected sales they were drawn around."""
    n_days = len(days)
    level = np.empty(n_days)
    state = 0.0
    for i, shock in enumerate(rng.normal(0.0, _LEVEL_SD, size=n_days)):
        state = _LEVEL_AR * state + shock
        level[i] = state
    day_noise = rng.gamma(_DAY_SHAPE, 1.0 / _DAY_SHAPE, size=n_days)
    steady = expected_transactions(category, days, holiday_country)
    counts = rng.poisson(steady * np.exp(level) * day_noise)
    # quantity 1-4 (mean 2.5) at a price whose log-normal factor has mean 1 (rounding aside)
    expected = ExpectedSales(steady * 2.5 * category.price, level, _LEVEL_AR, _LEVEL_SD)
    n = int(counts.sum())
    quantity = rng.integers(1, 5, size=n)
    price = np.maximum(
        1, np.round(category.price * rng.lognormal(-(_PRICE_SIGMA**2) / 2, _PRICE_SIGMA, n))
    ).astype(np.int64)
    rows = pd.DataFrame(
        {
            "Date": np.repeat(days.to_numpy(), counts),
            "order": rng.random(n),  # interleaves categories within a day
            "Gender": np.where(rng.random(n) < 0.5, "Female", "Male"),
            "Age": rng.integers(18, 65, size=n),
            "Product Category": category.name,
            "Quantity": quantity,
            "Price per Unit": price,
            "Total Amount": quantity * price,
        }
    )
    return rows, expected
