"""A generated retailer with any number of categories in a fixed mix, for `salescast bench scale`.

Same schema as `core.sample_data` (the Kaggle "Retail Sales Dataset" columns). The mix is fixed
(category counts by largest remainder, so 3, 30 and 300 categories all add up):

- 60 % `weekly`: steady sellers, 3–6 transactions a day with a strong weekly pattern (±30–60 %,
  peak on a random weekday), a yearly season (±10–30 %) and a trend (−5 … +15 % a year);
- 25 % `intermittent`: slow movers, 0.3–1.2 bursty transactions a day (gamma-mixed Poisson, shape
  0.5), so more than 40 % of their days have no sale;
- 10 % `launched`: sell like `weekly`, but their first sale is 2–8 weeks before the last day (a
  sale on the launch day is guaranteed), so their history is shorter than a model window;
- 5 % `huge`: the top sellers, 15–25 transactions a day at 4–8 × the price point of the others.

Categories are named `<Kind> NNN` (`Weekly 001`, …, `Huge 300`), kinds in that order. Category i
draws from its own seed `(seed, i)`: its rows do not depend on how many categories there are,
and the same seed, start, years and count give the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from core.atomic import write_bytes_atomic
from core.errors import SalescastError
from core.expected_sales import ExpectedSales

Kind = Literal["weekly", "intermittent", "launched", "huge"]
MIX: dict[Kind, float] = {"weekly": 0.60, "intermittent": 0.25, "launched": 0.10, "huge": 0.05}
RETAILER_CATEGORIES = 30  # categories of `salescast data sample --profile retailer`
RETAILER_YEARS = 2.0
LAUNCH_DAYS = (14, 56)  # a launched category's first sale: this many days before the last day
INTERMITTENT_ZERO_SHARE = 0.4  # an intermittent category has more than this share of days without sale
_CUSTOMERS = 20_000


class SampleError(SalescastError, ValueError):
    """Invalid sample parameters (unknown profile, bad start date, non-positive years)."""


class RetailerSampleError(SampleError):
    """Invalid retailer parameters (no categories)."""


@dataclass(frozen=True)
class _Demand:
    """How one kind sells: ranges drawn per category (low, high)."""

    transactions: tuple[float, float]  # mean transactions per day
    dispersion: float  # gamma shape of the day multiplier (lower = burstier)
    weekly_amplitude: tuple[float, float]
    price_factor: tuple[float, float]  # × the base price point


_DEMAND: dict[Kind, _Demand] = {
    "weekly": _Demand((3.0, 6.0), 8.0, (0.3, 0.6), (1.0, 1.0)),
    "intermittent": _Demand((0.3, 1.2), 0.5, (0.0, 0.3), (1.0, 1.0)),
    "launched": _Demand((3.0, 6.0), 8.0, (0.3, 0.6), (1.0, 1.0)),
    "huge": _Demand((15.0, 25.0), 8.0, (0.2, 0.5), (4.0, 8.0)),
}


def retailer_kinds(categories: int) -> list[Kind]:
    """The kind of each category, in name order: counts from `MIX` by largest remainder."""
    if categories < 1:
        raise RetailerSampleError(f"the retailer needs at least one category, got {categories}")
    exact = {kind: share * categories for kind, share in MIX.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    by_remainder = sorted(MIX, key=lambda kind: (-(exact[kind] - counts[kind]), list(MIX).index(kind)))
    for kind in by_remainder[: categories - sum(counts.values())]:
        counts[kind] += 1
    return [kind for kind in MIX for _ in range(counts[kind])]


def category_name(kind: Kind, index: int) -> str:
    """`Weekly 001`: the kind and the 1-based position among all categories."""
    return f"{kind.title()} {index:03d}"


def sample_days(start: str, years: float, *, min_days: int) -> pd.DatetimeIndex:
    """Every day of a sample `years` long (rounded to days, at least `min_days`) from `start`; both
    sample generators check their start and length here."""
    if not years > 0:
        raise SampleError(f"sample years must be positive, got {years}")
    try:
        first = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as exc:
        raise SampleError(f"sample start {start!r} is not a date (expected YYYY-MM-DD)") from exc
    return pd.date_range(first, periods=max(min_days, round(years * 365.25)), freq="D")


def generate_retailer_sample(
    seed: int, start: str, years: float = RETAILER_YEARS, categories: int = RETAILER_CATEGORIES
) -> pd.DataFrame:
    """Transactions of `categories` categories from `start` for `years`, sorted by date."""
    days = sample_days(start, years, min_days=LAUNCH_DAYS[1] + 1)
    frames = [
        _category_rows(kind, category_name(kind, i), days, np.random.default_rng([seed, i]))[0]
        for i, kind in enumerate(retailer_kinds(categories), start=1)
    ]
    return assemble_transactions(frames, seed)


def retailer_expected_sales(
    seed: int, start: str, years: float = RETAILER_YEARS, categories: int = RETAILER_CATEGORIES
) -> tuple[pd.DatetimeIndex, dict[str, ExpectedSales]]:
    """The generated days and each category's expected sales over them, from the very draws
    `generate_retailer_sample` makes with the same arguments."""
    days = sample_days(start, years, min_days=LAUNCH_DAYS[1] + 1)
    expected = {
        category_name(kind, i): _category_rows(
            kind, category_name(kind, i), days, np.random.default_rng([seed, i])
        )[1]
        for i, kind in enumerate(retailer_kinds(categories), start=1)
    }
    return days, expected


def assemble_transactions(frames: Sequence[pd.DataFrame], seed: int) -> pd.DataFrame:
    """The generators' categories as one export: rows by date (each category's `order` within a day),
    transaction ids, customers drawn from `seed`, ISO dates."""
    tx = pd.concat(frames, ignore_index=True)
    tx = tx.sort_values(["Date", "order"], kind="stable").drop(columns="order").reset_index(drop=True)
    rng = np.random.default_rng([seed, 0])
    n = len(tx)
    tx.insert(0, "Transaction ID", np.arange(1, n + 1))
    tx.insert(2, "Customer ID", [f"CUST{c:05d}" for c in rng.integers(1, _CUSTOMERS + 1, size=n)])
    tx["Date"] = tx["Date"].dt.strftime("%Y-%m-%d")
    return tx


def write_retailer_sample(
    path: Path, seed: int, start: str, years: float = RETAILER_YEARS, categories: int = RETAILER_CATEGORIES
) -> Path:
    """Write the retailer's CSV to `path` atomically; byte-identical for the same arguments."""
    frame = generate_retailer_sample(seed, start, years, categories)
    write_bytes_atomic(path, frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return path


def _category_rows(
    kind: Kind, name: str, days: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[pd.DataFrame, ExpectedSales]:
    """One category's transactions (Date, order, Gender, Age, Product Category, amounts) and the
    expected sales they were drawn around (day noise independent: the same at every horizon)."""
    demand = _DEMAND[kind]
    n_days = len(days)
    t_years = np.arange(n_days) / 365.25
    peak_weekday = rng.integers(0, 7)
    weekly = 1.0 + rng.uniform(*demand.weekly_amplitude) * np.cos(
        2 * np.pi * (days.dayofweek.to_numpy() - peak_weekday) / 7
    )
    season = 1.0 + rng.uniform(0.1, 0.3) * np.cos(
        2 * np.pi * (days.dayofyear.to_numpy() - rng.integers(1, 366)) / 365.25
    )
    trend = 1.0 + rng.uniform(-0.05, 0.15) * t_years
    shape = demand.dispersion
    base = rng.uniform(*demand.transactions)
    mean_tx = base * weekly * season * trend * rng.gamma(shape, 1 / shape, n_days)
    counts = rng.poisson(mean_tx)
    selling = np.ones(n_days)
    if kind == "launched":
        launch = n_days - 1 - int(rng.integers(LAUNCH_DAYS[0], LAUNCH_DAYS[1] + 1))
        counts[:launch] = 0
        counts[launch] = max(1, counts[launch])
        selling[:launch] = 0.0
    n = int(counts.sum())
    price_point = rng.uniform(15.0, 300.0) * rng.uniform(*demand.price_factor)
    # quantity 1-4 (mean 2.5) at a price whose log-normal factor has mean 1 (rounding aside)
    expected = ExpectedSales(base * weekly * season * trend * selling * 2.5 * price_point, np.zeros(n_days))
    quantity = rng.integers(1, 5, size=n)
    price = np.maximum(1, np.round(price_point * rng.lognormal(-0.045, 0.3, n))).astype(np.int64)
    rows = pd.DataFrame(
        {
            "Date": np.repeat(days.to_numpy(), counts),
            "order": rng.random(n),
            "Gender": np.where(rng.random(n) < 0.5, "Female", "Male"),
            "Age": rng.integers(18, 65, size=n),
            "Product Category": name,
            "Quantity": quantity,
            "Price per Unit": price,
            "Total Amount": quantity * price,
        }
    )
    return rows, expected


def kind_counts(kinds: Sequence[Kind]) -> dict[Kind, int]:
    """How many categories of each kind (every kind listed, in `MIX` order)."""
    return {kind: sum(1 for k in kinds if k == kind) for kind in MIX}
