"""Calendar factors learned from daily sales: effects that are there are found, noise is left alone."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from core.settings import CalendarSettings
from handlers.calendar_terms import check_calendar, day_factor, year_position
from training.calendar import (
    FileCalendar,
    adjust,
    file_calendar,
    fit_calendar,
    series_calendar,
    series_factors,
)

START = "2021-01-04"  # a Monday
WEEKDAY = np.array([0.8, 0.85, 0.9, 1.0, 1.15, 1.4, 0.9])


def daily(days: int, seed: int, *, holiday: float = 1.0, yearly: float = 0.0) -> pd.Series:
    """Gamma noise around a weekly pattern, × `holiday` on US public holidays, × a December peak."""
    dates = pd.date_range(START, periods=days, freq="D")
    rng = np.random.default_rng(seed)
    season = 1.0 + yearly * np.cos(2 * np.pi * (dates.dayofyear - 350) / 365)
    level = 100.0 * WEEKDAY[dates.dayofweek] * season
    calendar_days = {pd.Timestamp(day) for day in fit_holidays(dates)}
    level = level * np.where(dates.isin(list(calendar_days)), holiday, 1.0)
    return pd.Series(level * rng.gamma(20.0, 1 / 20.0, days), index=dates)


def fit_holidays(dates: pd.DatetimeIndex) -> list[date]:
    import holidays

    return list(holidays.country_holidays("US", years=range(dates[0].year, dates[-1].year + 1)))


def test_a_holiday_effect_is_found_and_noise_is_not() -> None:
    settings = CalendarSettings(yearly=False, month_end=False)
    closed = daily(730, 1, holiday=0.3)
    block = fit_calendar(closed.to_numpy(), pd.DatetimeIndex(closed.index), 700, settings, "US")
    assert block is not None
    check_calendar(block, "test")
    factors = [block["holidays"][day] for day in ("2021-07-05", "2021-12-24", "2022-07-04")]
    assert all(0.2 < factor < 0.45 for factor in factors), factors
    assert block["holidays_until"] == "2025-12-31"  # 3 years after the data's last year
    assert "2025-12-25" in block["holidays"]  # future holidays are in the table
    plain = daily(730, 2)
    assert fit_calendar(plain.to_numpy(), pd.DatetimeIndex(plain.index), 700, settings, "US") is None


def test_a_closure_every_year_is_kept_where_holidays_as_a_whole_show_nothing() -> None:
    """Closed on Christmas every year, normal on every other holiday: the pooled test
    cannot see 3 days in 1000; the closure keeps its own factor. Where normal days are often empty
    as well, 3 empty Christmases are chance and nothing is kept."""
    settings = CalendarSettings(yearly=False, month_end=False)
    series = daily(3 * 365, 7)
    christmas = series.index.isin([pd.Timestamp(day) for day in ("2021-12-25", "2022-12-25", "2023-12-25")])
    series[christmas] = 0.0
    block = fit_calendar(series.to_numpy(), pd.DatetimeIndex(series.index), len(series), settings, "US")
    assert block is not None
    assert block["holidays"]["2024-12-25"] == 0.0  # the next Christmas is closed too
    assert "2024-07-04" not in block["holidays"]  # the other holidays keep factor 1
    sparse = series * (np.random.default_rng(7).random(len(series)) < 0.5)
    values = sparse.to_numpy()
    assert fit_calendar(values, pd.DatetimeIndex(sparse.index), len(values), settings, "US") is None


def test_a_shop_closed_once_is_closed_for_every_category_an_outage_is_not() -> None:
    """The bundled sample's shape: a year and a half of three categories, every one of them empty on
    the one Christmas seen (the shop closed) and, like the sample's, now and then on a normal day (an
    outage). Alone, one empty Christmas is what an outage gives; on the file's total it is a closure,
    and every category's next Christmas gets its own ratio, 0. One category empty on Independence Day
    is an outage: the file keeps it open."""
    settings = CalendarSettings(yearly=False, month_end=False)
    rng = np.random.default_rng(5)
    sales = {}
    for seed in (31, 32, 33):
        series = daily(560, seed)
        series[rng.random(len(series)) < 0.02] = 0.0  # outages, 1 day in 50
        series[series.index == pd.Timestamp("2021-12-25")] = 0.0
        sales[f"c{seed}"] = series
    sales["c31"][sales["c31"].index == pd.Timestamp("2021-07-05")] = 0.0  # Independence Day (observed)
    alone = sales["c32"]
    values, dates = alone.to_numpy(), pd.DatetimeIndex(alone.index)
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is None or "2022-12-25" not in block["holidays"]  # alone: an outage is as likely
    together = file_calendar(sales, pd.Timestamp("2023-01-01"), settings, "US")
    assert set(together.closed) == {"Christmas Day"} and together.closed["Christmas Day"] == 0.0
    for series in sales.values():
        values, dates = series.to_numpy(), pd.DatetimeIndex(series.index)
        block = fit_calendar(values, dates, len(values), settings, "US", together)
        assert block is not None and block["holidays"]["2022-12-25"] == 0.0
        assert "2022-07-04" not in block["holidays"]
    open_file = {
        name: series.where(series.index != pd.Timestamp("2021-12-25"), 100.0)
        for name, series in sales.items()
    }
    assert file_calendar(open_file, pd.Timestamp("2023-01-01"), settings, "US").closed == {}


def test_the_days_after_a_holiday_get_factors_of_their_own_and_a_burst_does_not() -> None:
    """Black Friday (Thanksgiving + 1) sells three normal days' worth and its Saturday two, two years
    running: the next one gets its factor from the holiday table, above Thanksgiving + 3's (each day
    its own ratio, pulled a third of the way toward the weekend's: seen twice). Where large
    orders come on 3 % of days, one after Juneteenth is what normal days show too: no factor."""
    settings = CalendarSettings(yearly=False, month_end=False)
    series = daily(730, 11)
    black_fridays = series.index.isin([pd.Timestamp(day) for day in ("2021-11-26", "2022-11-25")])
    series[black_fridays] *= 3.0
    series[np.roll(black_fridays, 1)] *= 2.0  # the Saturday after
    values, dates = series.to_numpy(), pd.DatetimeIndex(series.index)
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is not None
    check_calendar(block, "test")
    black_friday, sunday = day_factor(block, date(2023, 11, 24)), day_factor(block, date(2023, 11, 26))
    assert black_friday > 1.5 and 0.8 < sunday < black_friday
    assert day_factor(block, date(2023, 6, 20)) == 1.0  # Juneteenth + 1: nothing there
    orders = daily(730, 12)
    rng = np.random.default_rng(12)
    orders[rng.random(len(orders)) < 0.03] *= 6.0
    orders[orders.index == pd.Timestamp("2021-06-20")] *= 6.0
    values, dates = orders.to_numpy(), pd.DatetimeIndex(orders.index)
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is None or "2023-06-20" not in block["holidays"]


def test_a_file_keeps_the_neighbours_its_categories_share_not_one_category_s_burst() -> None:
    """Three categories with a Black Friday weekend; one of them also had a run of large orders
    after Juneteenth (× 1.8 for 4 days), enough on its own to pass. Tested on the file's total, only
    Black Friday's group is kept, and each category gets its own factors for that group alone."""
    settings = CalendarSettings(yearly=False, month_end=False)
    black_fridays = ["2021-11-26", "2021-11-27", "2022-11-25", "2022-11-26"]
    sales = {}
    for seed in (21, 22, 23):
        series = daily(730, seed)
        series[series.index.isin([pd.Timestamp(day) for day in black_fridays])] *= 2.5
        sales[f"c{seed}"] = series
    burst = sales["c21"].index.isin(pd.date_range("2021-06-20", periods=4))
    sales["c21"][burst] *= 1.8
    alone = sales["c21"]
    values, dates = alone.to_numpy(), pd.DatetimeIndex(alone.index)
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is not None and day_factor(block, date(2023, 6, 20)) > 1.5  # alone, the burst passes
    together = file_calendar(sales, pd.Timestamp("2023-01-01"), settings, "US")
    assert together.groups == frozenset({"Thanksgiving Day|True"})
    block = fit_calendar(values, dates, len(values), settings, "US", together)
    assert block is not None
    assert day_factor(block, date(2023, 6, 20)) == 1.0
    assert day_factor(block, date(2023, 11, 24)) > 1.5


def test_a_category_s_single_black_friday_follows_the_file_s_shape_of_its_days() -> None:
    """One Black Friday weekend seen (400 days): every category sells most on the Friday, but c23's one
    sighting sold about as much on the Saturday. Its days are shrunk toward its own group's ratio times
    the file's shape of the days (Friday above Saturday), not toward its flat group ratio."""
    settings = CalendarSettings(yearly=False, month_end=False)
    weekend = pd.date_range("2021-11-26", periods=4)  # Friday .. Cyber Monday
    lifts = {"c21": (3.0, 1.6, 1.2, 1.5), "c22": (3.0, 1.6, 1.2, 1.5), "c23": (2.2, 2.4, 1.2, 1.5)}
    sales = {}
    for seed, (name, lift) in enumerate(lifts.items(), start=31):
        series = daily(400, seed)
        series[series.index.isin(weekend)] *= np.array(lift)
        sales[name] = series
    together = file_calendar(sales, pd.Timestamp("2023-01-01"), settings, "US")
    assert together.groups == frozenset({"Thanksgiving Day|True"})
    friday, saturday = (together.shape[f"Thanksgiving Day|{offset}"] for offset in (1, 2))
    assert friday > 1.3 > saturday
    values, dates = sales["c23"].to_numpy(), pd.DatetimeIndex(sales["c23"].index)
    shaped = fit_calendar(values, dates, len(values), settings, "US", together)
    flat = fit_calendar(values, dates, len(values), settings, "US", FileCalendar(together.groups))
    assert shaped is not None and flat is not None
    next_friday, next_saturday = date(2022, 11, 25), date(2022, 11, 26)
    assert day_factor(shaped, next_friday) > day_factor(shaped, next_saturday)
    assert day_factor(flat, next_friday) < day_factor(flat, next_saturday)


def test_a_yearly_factor_needs_two_years_and_follows_the_season() -> None:
    settings = CalendarSettings(holidays=False, month_end=False)
    seasonal = daily(3 * 365, 3, yearly=0.4)
    values, dates = seasonal.to_numpy(), pd.DatetimeIndex(seasonal.index)
    assert fit_calendar(values, dates, 600, settings, "US") is None  # under yearly_min_days
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is not None and block["yearly"] is not None
    yearly = np.asarray(block["yearly"])
    assert yearly.mean() == pytest.approx(1.0)
    assert yearly[year_position(date(2024, 12, 16))] > 1.25
    assert yearly[year_position(date(2024, 6, 16))] < 0.75


def test_a_closed_christmas_and_new_year_do_not_dent_the_season_around_them() -> None:
    """A shop closed on Dec 25 and Jan 1 at the top of its season: their zeros, divided by nothing,
    would pull the 7-day means of the days around them down by a seventh (the end of the run-up)."""
    settings = CalendarSettings(month_end=False)
    seasonal = daily(3 * 365, 8, yearly=0.4)
    closures = [f"{year}-12-25" for year in (2021, 2022, 2023)] + [f"{year}-01-01" for year in (2022, 2023)]
    seasonal[seasonal.index.isin([pd.Timestamp(day) for day in closures])] = 0.0
    values, dates = seasonal.to_numpy(), pd.DatetimeIndex(seasonal.index)
    block = fit_calendar(values, dates, len(values), settings, "US")
    assert block is not None and block["yearly"] is not None
    assert block["holidays"]["2024-12-25"] == 0.0 and block["holidays"]["2025-01-01"] == 0.0
    yearly = np.asarray(block["yearly"])
    peak = yearly[year_position(date(2024, 12, 16))]  # the season is nearly flat from here to Jan 1
    for day in (date(2024, 12, 22), date(2024, 12, 25), date(2024, 12, 29), date(2025, 1, 1)):
        assert yearly[year_position(day)] > 0.95 * peak, day


def test_a_yearly_factor_is_left_out_where_the_years_disagree() -> None:
    """Level shifts on different days of each year look like a season in any one year; the years'
    disagreement shrinks the profile to nothing (the `store` profile's loss without this)."""
    settings = CalendarSettings(holidays=False, month_end=False)
    plain = daily(3 * 365, 6)
    rng = np.random.default_rng(6)
    steps = rng.choice([-0.5, 0.5], len(plain))
    shifts = np.exp(np.cumsum(np.where(rng.random(len(plain)) < 1 / 150, steps, 0.0)))
    shifted = plain * shifts
    values, dates = shifted.to_numpy(), pd.DatetimeIndex(shifted.index)
    assert fit_calendar(values, dates, len(values), settings, "US") is None
    seasonal = daily(3 * 365, 6, yearly=0.4) * shifts  # a real season survives the same shifts
    block = fit_calendar(seasonal.to_numpy(), dates, len(values), settings, "US")
    assert block is not None and block["yearly"] is not None
    assert block["yearly"][year_position(date(2024, 12, 16))] > 1.15


def test_the_calendar_divides_the_series_and_the_factors_extend_past_it() -> None:
    series = daily(730, 4, holiday=0.3)
    calendar = series_calendar(series, 700, CalendarSettings(yearly=False, month_end=False), "US")
    assert calendar.block is not None
    christmas = series.index.get_loc(pd.Timestamp("2021-12-24"))  # Christmas Day observed
    assert calendar.factors[christmas] == day_factor(calendar.block, date(2021, 12, 24))
    expected = series.iloc[christmas] / calendar.factors[christmas]
    assert calendar.adjusted.iloc[christmas] == pytest.approx(expected)
    ahead = series_factors(calendar.block, pd.DatetimeIndex(series.index), 10)
    assert len(ahead) == 740 and np.array_equal(ahead[:730], calendar.factors)
    assert np.array_equal(adjust(np.zeros(3), np.array([0.0, 0.1, 1.0]), 0.2), np.zeros(3))


def test_every_term_off_or_too_short_means_no_block() -> None:
    series = daily(730, 5, holiday=0.3)
    values, dates = series.to_numpy(), pd.DatetimeIndex(series.index)
    off = CalendarSettings(holidays=False, yearly=False, month_end=False)
    assert fit_calendar(values, dates, 700, off, "US") is None
    assert fit_calendar(values, dates, 20, CalendarSettings(), "US") is None
    unused = series_calendar(series, 700, off, "US")
    assert unused.block is None and unused.adjusted.equals(series)
