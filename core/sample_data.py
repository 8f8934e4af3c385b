"""Deterministic sample transactions in the Kaggle "Retail Sales Dataset" schema.

The bundled `data/sample_sales.csv` is produced here from a fixed seed. Each category's expected
daily revenue is `base × trend × weekday × yearly season × holiday × slow demand level`; the day's
transactions are drawn around it (Poisson count, quantity 1–4, lognormal price around a
category-specific price point), so daily totals carry learnable structure with realistic noise.
Stores close on Christmas Day and a category occasionally has an outage day without sales.
`expected_sales` replays a seed's draws and returns what each category's days were drawn around
(`core.expected_sales`: the accuracy bench's optimum on a generated file).

Profiles: `default` (10–40 transactions a day per category, the training sample) and `sparse`
(about 1000 transactions a year over the three categories, most category-days empty; for
benchmarks of sparse series), plus two that imitate real exports for the accuracy bench:

- `store` (meant for 4 years): a shop closed on Sundays and public holidays whose categories sell a
  few bursty transactions a day (21–43 % of days without sales), with sudden persistent level
  shifts (a competitor opens, a product line is listed or dropped), occasional large orders (a
  business buying 10–30 units at once) and last four months more volatile than before.
- `shop` (meant for 1 year): a small web shop, open every day, about 45 % of category-days
  without sales, an occasional large order.
- `retailer` (2 years): 30 categories of four kinds in a fixed mix (`core.retailer_sample`, which
  also makes any other count, for the scale bench).
- `multiyear` (4 years): four categories with a weekly pattern, a November–December peak, a summer
  dip in one, and the public holidays of `holiday_country` (`core.multiyear_sample`).
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from core.atomic import write_bytes_atomic
from core.expected_sales import ExpectedSales
from core.multiyear_sample import generate_multiyear_sample
from core.retailer_sample import SampleError as SampleError  # raised here too; callers import it from here
from core.retailer_sample import generate_retailer_sample, sample_days
from core.settings import Settings

logger = logging.getLogger(__name__)

Profile = Literal["default", "sparse", "store", "shop", "retailer", "multiyear"]
PROFILES: tuple[Profile, ...] = ("default", "sparse", "store", "shop", "retailer", "multiyear")
# History length each profile is meant for (`salescast data sample --profile P` without --years).
PROFILE_YEARS: dict[Profile, float] = {
    "default": 2.0,
    "sparse": 2.0,
    "store": 4.0,
    "shop": 1.0,
    "retailer": 2.0,
    "multiyear": 4.0,
}
DEFAULT_HOLIDAY_COUNTRY = "US"  # the `multiyear` profile's public holidays unless told (data.holiday_country)
COLUMNS = (
    "Transaction ID",
    "Date",
    "Customer ID",
    "Gender",
    "Age",
    "Product Category",
    "Quantity",
    "Price per Unit",
    "Total Amount",
)
# Monday..Sunday demand multipliers (mean 1): quiet early week, busy Friday/Saturday.
_WEEKDAY = np.array([0.66, 0.73, 0.83, 0.95, 1.18, 1.53, 1.12])
_CUSTOMERS = 20_000  # size of the customer pool the IDs are drawn from
_DEMAND_AR = 0.85  # day-to-day persistence of the slow demand level (log scale)
_DEMAND_SD = 0.05  # innovation sd of that level; stationary sd ≈ 0.095


_Profile = TypeVar("_Profile")


def _by_column(cls: Callable[..., _Profile], table: Mapping[str, Sequence[Any]]) -> list[_Profile]:
    """One profile per column of `table` (field name → that field's value in each profile): profiles
    read side by side, and a field left out fails here."""
    count = len(next(iter(table.values())))
    return [cls(**{field: values[column] for field, values in table.items()}) for column in range(count)]


@dataclass(frozen=True)
class CategoryProfile:
    """How one category sells.

    Attributes:
        name: category name written to `Product Category`.
        transactions: mean transactions per day at the start of the history (before multipliers).
        price: typical unit price; each transaction's price is lognormal around it.
        price_sigma: sd of log price (category-specific price spread).
        quantity_weights: probabilities of buying 1, 2, 3 or 4 units.
        trend: relative growth per year (0.1 = +10 % a year, linear).
        season_amplitude: amplitude of the yearly cosine (0.2 = ±20 %).
        season_peak_day: day of year of the seasonal peak.
        female_share: share of customers recorded as `Female`.
        outage_rate: probability that a day has no sales at all (stock-out, till outage).
        holiday_boost: multiplier on the Black Friday weekend and Christmas run-up effects.
    """

    name: str
    transactions: float
    price: float
    price_sigma: float
    quantity_weights: tuple[float, float, float, float]
    trend: float
    season_amplitude: float
    season_peak_day: int
    female_share: float
    outage_rate: float
    holiday_boost: float


_DEFAULT_CATEGORIES = tuple(
    _by_column(
        CategoryProfile,
        {
            "name": ("Beauty", "Clothing", "Electronics"),
            "transactions": (20.0, 28.0, 20.0),
            "price": (38.0, 52.0, 260.0),
            "price_sigma": (0.25, 0.30, 0.25),
            "quantity_weights": (
                (0.35, 0.30, 0.20, 0.15),
                (0.30, 0.30, 0.25, 0.15),
                (0.70, 0.20, 0.07, 0.03),
            ),
            "trend": (0.08, 0.12, 0.05),
            "season_amplitude": (0.15, 0.22, 0.18),
            # Mid-February (Valentine's), late May (summer collection), late November (holiday shopping).
            "season_peak_day": (45, 150, 330),
            "female_share": (0.68, 0.55, 0.40),
            "outage_rate": (0.012, 0.005, 0.015),
            "holiday_boost": (0.8, 1.0, 1.2),
        },
    )
)
# Sparse: same shapes, ~1000 transactions a year in total, bursty (gamma-mixed Poisson) days.
_SPARSE_TOTAL_PER_YEAR = 1000.0
_SPARSE_DISPERSION = 0.5  # gamma shape of the day multiplier; lower = burstier, more empty days


@dataclass(frozen=True)
class ExportProfile:
    """How the categories of a real-export-like profile (`store`, `shop`) sell, beyond their shapes.

    Attributes:
        transactions: mean transactions per open day of each category (Beauty, Clothing, Electronics).
        dispersion: gamma shape of each category's day multiplier; lower = burstier, more empty days.
        closed_weekdays: weekdays (0 = Monday) the shop is closed; it also closes on Jan 1 and Dec 25.
        shifts_per_year: expected sudden level shifts of a category per year.
        shift_size: range of the absolute log change of the level at a shift.
        max_log_level: the cumulative log level stays within ± this (shifts that would leave it flip).
        large_order_rate: probability that an open day brings one large order.
        large_order_units: range of units in a large order (at the category's price point).
        volatile_days: the last days of the history, whose demand is burstier...
        volatile_dispersion: ...with the gamma shape multiplied by this...
        volatile_large_orders: ...and the large-order rate multiplied by this.
    """

    transactions: tuple[float, float, float]
    dispersion: tuple[float, float, float]
    closed_weekdays: tuple[int, ...]
    shifts_per_year: float
    shift_size: tuple[float, float]
    max_log_level: float
    large_order_rate: float
    large_order_units: tuple[int, int]
    volatile_days: int
    volatile_dispersion: float
    volatile_large_orders: float


_EXPORT_PROFILES: dict[str, ExportProfile] = dict(
    zip(
        ("store", "shop"),
        _by_column(
            ExportProfile,
            {
                "transactions": ((6.5, 6.0, 3.4), (1.8, 1.9, 1.2)),
                "dispersion": ((1.8, 1.0, 0.9), (0.8, 0.7, 1.0)),
                "closed_weekdays": ((6,), ()),
                "shifts_per_year": (0.9, 0.5),
                "shift_size": ((0.25, 0.6), (0.2, 0.4)),
                "max_log_level": (0.7, 0.5),
                "large_order_rate": (0.01, 0.008),
                "large_order_units": ((10, 30), (8, 30)),
                "volatile_days": (120, 0),
                "volatile_dispersion": (0.35, 1.0),
                "volatile_large_orders": (2.5, 1.0),
            },
        ),
        strict=True,
    )
)


def generate_sample(
    seed: int,
    start: str,
    years: float,
    *,
    profile: Profile = "default",
    holiday_country: str = DEFAULT_HOLIDAY_COUNTRY,
) -> pd.DataFrame:
    """Transactions from `start` for `years` (rounded to days), sorted by date; same seed → same rows.
    `holiday_country` shapes the `multiyear` profile only."""
    if profile not in PROFILES:
        raise SampleError(f"unknown sample profile {profile!r}; expected one of {', '.join(PROFILES)}")
    days = sample_days(start, years, min_days=1)
    if profile == "retailer":  # many categories in a fixed mix (the scale bench's data)
        return generate_retailer_sample(seed, start, years)
    if profile == "multiyear":  # yearly season and public holidays
        return generate_multiyear_sample(seed, start, years, holiday_country)
    rng = np.random.default_rng(seed)
    frames = [_category_transactions(cat, days, rng, profile)[0] for cat in _DEFAULT_CATEGORIES]
    tx = pd.concat(frames, ignore_index=True)
    tx = tx.sort_values(["Date", "order"], kind="stable").drop(columns="order").reset_index(drop=True)
    n = len(tx)
    tx.insert(0, "Transaction ID", np.arange(1, n + 1))
    customer = rng.integers(1, _CUSTOMERS + 1, size=n)
    tx.insert(2, "Customer ID", [f"CUST{c:05d}" for c in customer])
    tx["Date"] = tx["Date"].dt.strftime("%Y-%m-%d")
    return tx.loc[:, list(COLUMNS)]


def expected_sales(
    seed: int, start: str, years: float, *, profile: Profile = "default"
) -> tuple[pd.DatetimeIndex, dict[str, ExpectedSales]]:
    """The generated days and each category's expected sales over them (`core.expected_sales`), from
    the very draws `generate_sample` makes with the same arguments; for `retailer` and `multiyear` see
    `core.retailer_sample.retailer_expected_sales` and `core.multiyear_sample.multiyear_expected_sales`."""
    if profile in ("retailer", "multiyear") or profile not in PROFILES:
        raise SampleError(
            f"expected_sales replays the default, sparse, store and shop profiles, not {profile!r}"
        )
    days = sample_days(start, years, min_days=1)
    rng = np.random.default_rng(seed)
    drawn = [_category_transactions(cat, days, rng, profile)[1] for cat in _DEFAULT_CATEGORIES]
    return days, {cat.name: expected for cat, expected in zip(_DEFAULT_CATEGORIES, drawn, strict=True)}


def _category_transactions(
    cat: CategoryProfile, days: pd.DatetimeIndex, rng: np.random.Generator, profile: Profile
) -> tuple[pd.DataFrame, ExpectedSales]:
    """One category's transactions and the expected sales they were drawn around."""
    mean_tx, level = _expected_transactions(cat, days, rng)
    export = _EXPORT_PROFILES.get(profile)
    large_orders = np.zeros(len(days), dtype=np.int64)
    steady = mean_tx / np.exp(level)  # transactions a day with the demand level at 0
    large_rate = np.zeros(len(days))
    if profile == "sparse":
        per_day = _SPARSE_TOTAL_PER_YEAR / 365.25 / len(_DEFAULT_CATEGORIES)
        steady = steady / mean_tx.mean() * per_day
        mean_tx = mean_tx / mean_tx.mean() * per_day
        mean_tx = mean_tx * rng.gamma(_SPARSE_DISPERSION, 1.0 / _SPARSE_DISPERSION, size=len(days))
    elif export is not None:
        mean_tx, large_orders, steady, large_rate = _export_demand(cat, export, days, mean_tx, steady, rng)
    counts = rng.poisson(mean_tx)
    counts[rng.random(len(days)) < cat.outage_rate] = 0
    counts = counts + large_orders  # a large order is one more transaction on its day (placed last)
    n = int(counts.sum())
    quantity = rng.choice(np.arange(1, 5), size=n, p=np.array(cat.quantity_weights))
    if large_orders.any():
        big = _large_order_rows(counts, large_orders)
        low, high = export.large_order_units if export is not None else (1, 4)
        quantity[big] = rng.integers(low, high + 1, size=len(big))
    price = np.maximum(5, np.round(cat.price * rng.lognormal(-(cat.price_sigma**2) / 2, cat.price_sigma, n)))
    price = price.astype(np.int64)
    female = rng.random(n) < cat.female_share
    # the price's log-normal factor has mean 1 (rounding aside); outages empty the ordinary days only
    amount = float(np.dot(np.arange(1, 5), cat.quantity_weights)) * cat.price
    large_amount = (sum(export.large_order_units) / 2 if export is not None else 0.0) * cat.price
    expected = ExpectedSales(
        steady * (1.0 - cat.outage_rate) * amount, level, _DEMAND_AR, _DEMAND_SD, large_rate * large_amount
    )
    rows = pd.DataFrame(
        {
            "Date": np.repeat(days.to_numpy(), counts),
            "order": rng.random(n),  # interleaves categories within a day
            "Gender": np.where(female, "Female", "Male"),
            "Age": rng.integers(18, 65, size=n),
            "Product Category": cat.name,
            "Quantity": quantity,
            "Price per Unit": price,
            "Total Amount": quantity * price,
        }
    )
    return rows, expected


def _export_demand(
    cat: CategoryProfile,
    export: ExportProfile,
    days: pd.DatetimeIndex,
    mean_tx: np.ndarray,
    steady: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean transactions per day (bursty, level-shifted, closed days zero) and large orders per day;
    then `steady` (the mean at demand level 0) and the large-order rate as drawn around."""
    index = _DEFAULT_CATEGORIES.index(cat)
    n_days = len(days)
    steady = steady / mean_tx.mean() * export.transactions[index]
    mean_tx = mean_tx / mean_tx.mean() * export.transactions[index]
    # Sudden persistent level shifts: Poisson-many change days, each moving the log level by a
    # random amount in shift_size, in a random direction (kept within ±max_log_level).
    n_shifts = rng.poisson(export.shifts_per_year * n_days / 365.25)
    shift_days = np.sort(rng.integers(28, max(29, n_days), size=n_shifts))
    sizes = rng.uniform(*export.shift_size, size=n_shifts) * rng.choice([-1.0, 1.0], size=n_shifts)
    log_level = np.zeros(n_days)
    current = 0.0
    for day, size in zip(shift_days, sizes, strict=True):
        if abs(current + size) > export.max_log_level:
            size = -size
        current += size
        log_level[day:] = current
    shape = np.full(n_days, export.dispersion[index])
    large_rate = np.full(n_days, export.large_order_rate)
    if export.volatile_days > 0:
        shape[-export.volatile_days :] *= export.volatile_dispersion
        large_rate[-export.volatile_days :] *= export.volatile_large_orders
    mean_tx = mean_tx * np.exp(log_level) * rng.gamma(shape, 1.0 / shape)
    closed = np.isin(days.dayofweek.to_numpy(), export.closed_weekdays)
    closed |= (days.month.to_numpy() == 1) & (days.day.to_numpy() == 1)
    closed |= (days.month.to_numpy() == 12) & (days.day.to_numpy() == 25)
    mean_tx[closed] = 0.0
    large_orders = ((rng.random(n_days) < large_rate) & ~closed).astype(np.int64)
    steady = np.where(closed, 0.0, steady * np.exp(log_level))
    return mean_tx, large_orders, steady, np.where(closed, 0.0, large_rate)


def _large_order_rows(counts: np.ndarray, large_orders: np.ndarray) -> np.ndarray:
    """Row positions of the large orders in the day-ordered transactions: the last row of their day."""
    day_ends = np.cumsum(counts) - 1
    return np.asarray(day_ends[large_orders > 0], dtype=np.int64)


def _expected_transactions(
    cat: CategoryProfile, days: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mean transaction count per day: trend × weekday × season × holidays × slow demand level; and
    that level (log scale)."""
    t_years = np.arange(len(days)) / 365.25
    trend = 1.0 + cat.trend * t_years
    weekday = _WEEKDAY[days.dayofweek.to_numpy()]
    doy = days.dayofyear.to_numpy()
    season = 1.0 + cat.season_amplitude * np.cos(2 * np.pi * (doy - cat.season_peak_day) / 365.25)
    level = np.empty(len(days))
    state = 0.0
    shocks = rng.normal(0.0, _DEMAND_SD, size=len(days))
    for i, shock in enumerate(shocks):
        state = _DEMAND_AR * state + shock
        level[i] = state
    mean = cat.transactions * trend * weekday * season * np.exp(level) * _holidays(days, cat.holiday_boost)
    return np.asarray(mean, dtype=np.float64), level


def _holidays(days: pd.DatetimeIndex, boost: float) -> np.ndarray:
    """Multipliers: Black Friday weekend, Cyber Monday, Christmas run-up, closed Dec 25, sales after."""
    factor = np.ones(len(days))
    month = days.month.to_numpy()
    day = days.day.to_numpy()
    weekday = days.dayofweek.to_numpy()
    # Black Friday: the Friday after the fourth Thursday of November (day 23..29).
    black_friday = (month == 11) & (weekday == 4) & (day >= 23) & (day <= 29)
    for offset, lift in ((0, 1.2), (1, 0.5), (2, 0.3), (3, 0.4)):  # Fri, Sat, Sun, Cyber Monday
        idx = np.flatnonzero(black_friday) + offset
        idx = idx[idx < len(days)]
        factor[idx] *= 1.0 + lift * boost
    run_up = (month == 12) & (day >= 10) & (day <= 23)
    factor[run_up] *= 1.0 + 0.35 * boost * (day[run_up] - 9) / 14
    factor[(month == 12) & (day == 24)] *= 1.0 + 0.2 * boost
    factor[(month == 12) & (day == 25)] = 0.0  # closed
    factor[(month == 12) & (day >= 26)] *= 1.0 + 0.3 * boost
    return factor


def sample_csv_bytes(
    seed: int,
    start: str,
    years: float,
    *,
    profile: Profile = "default",
    holiday_country: str = DEFAULT_HOLIDAY_COUNTRY,
) -> bytes:
    """The CSV text of `generate_sample` (UTF-8, LF line endings), as written by `write_sample`."""
    frame = generate_sample(seed, start, years, profile=profile, holiday_country=holiday_country)
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_sample(
    path: Path,
    seed: int,
    start: str,
    years: float,
    *,
    profile: Profile = "default",
    overwrite: bool = True,
    holiday_country: str = DEFAULT_HOLIDAY_COUNTRY,
) -> Path:
    """Write the sample to `path` atomically (gzip when it ends in `.gz`); byte-identical for a seed.

    With `overwrite=False` an existing file with other content is left alone (`SampleError`), so
    a data path pointing at real sales is never replaced by accident.
    """
    payload = sample_csv_bytes(seed, start, years, profile=profile, holiday_country=holiday_country)
    if path.name.endswith(".gz"):
        # mtime=0 and no embedded file name keep the archive byte-identical across runs.
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    if not overwrite and path.exists() and path.read_bytes() != payload:
        raise SampleError(f"{path} exists and is not this sample; choose another path or allow overwriting")
    write_bytes_atomic(path, payload)
    logger.info("sample data written path=%s profile=%s seed=%s bytes=%d", path, profile, seed, len(payload))
    return path


def ensure_sample_data(settings: Settings) -> Path:
    """Return `settings.data.path`, first writing the sample there (from `settings.sample`) if missing."""
    path = settings.data.path
    if path.exists():
        return path
    logger.info("data file missing, generating the sample path=%s", path)
    sample = settings.sample
    return write_sample(path, sample.seed, sample.start, sample.years)
