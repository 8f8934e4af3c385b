"""Statistics the Explore tab shows for a daily sales series: rolling mean and a per-category summary.

Pure pandas on the series the gateway returns (one value per day, days without sales already
filled by the gateway's loader), so the numbers match what the models learn from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

NO_VALUE = "—"
SUMMARY_COLUMNS = ["Category", "Days", "Total", "Mean / day", "Std / day", "Last date", "Days without sales"]


@dataclass(frozen=True)
class SeriesSummary:
    """Summary of one category's daily sales over the shown range."""

    category: str
    days: int
    total: float
    mean: float
    std: float
    last_date: date | None
    zero_share: float

    def as_row(self) -> list[object]:
        """One row of the summary table, formatted for reading ("—" where an empty range has no value)."""
        if not self.days:
            return [self.category, 0, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE, NO_VALUE]
        return [
            self.category,
            self.days,
            f"{self.total:,.2f}",
            f"{self.mean:,.2f}",
            f"{self.std:,.2f}",
            self.last_date.isoformat() if self.last_date else NO_VALUE,
            f"{self.zero_share:.1%}",
        ]


def rolling_mean(series: pd.Series, window: int) -> pd.Series:
    """Trailing mean over `window` days; NaN until a full window is seen (no warm-up bias)."""
    if window < 1:
        raise ValueError(f"rolling window must be at least 1 day, got {window}")
    return series.rolling(window=window, min_periods=window).mean()


def summarize(category: str, series: pd.Series) -> SeriesSummary:
    """Days, total, mean, sample std, last date and share of days with zero sales."""
    values = series.dropna()
    days = len(values)
    last = values.index.max() if days else None
    return SeriesSummary(
        category=category,
        days=days,
        total=float(values.sum()),
        mean=float(values.mean()) if days else 0.0,
        std=float(values.std(ddof=1)) if days > 1 else 0.0,
        last_date=pd.Timestamp(last).date() if last is not None else None,
        zero_share=float((values == 0).mean()) if days else 0.0,
    )


def summary_frame(series_by_category: Mapping[str, pd.Series]) -> pd.DataFrame:
    """The Explore tab's table: one row per category, in the order given."""
    rows = [summarize(category, series).as_row() for category, series in series_by_category.items()]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
