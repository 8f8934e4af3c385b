"""Small synthetic sales series and transaction files for training tests (no sample data needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

WEEKLY = np.array([1.0, 0.8, 0.9, 1.0, 1.3, 1.8, 1.5])


def weekly_series(days: int, *, name: str = "Toys", start: str = "2024-01-01", seed: int = 0) -> pd.Series:
    """Daily sales with a weekly pattern, a gentle trend and noise; float64, freq "D"."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    values = 100.0 * WEEKLY[t % 7] * (1.0 + t / 400.0) + rng.normal(0.0, 5.0, days)
    index = pd.date_range(start, periods=days, freq="D")
    return pd.Series(np.maximum(values, 0.0).round(2), index=index, name=name, dtype="float64")


def write_transactions(
    path: Path, days_per_category: Mapping[str, int], *, start: str = "2024-01-01"
) -> Path:
    """A Kaggle-schema CSV with one transaction per category and day (the last `days` days of the file)."""
    total = max(days_per_category.values())
    rows: list[dict[str, object]] = []
    for offset, category in enumerate(days_per_category):
        days = days_per_category[category]
        series = weekly_series(total, name=category, start=start, seed=offset).iloc[total - days :]
        for day, amount in zip(series.index, series.to_numpy(), strict=True):
            rows.append(
                {
                    "Transaction ID": len(rows) + 1,
                    "Date": day.strftime("%Y-%m-%d"),
                    "Customer ID": f"CUST{len(rows):05d}",
                    "Gender": "Female",
                    "Age": 40,
                    "Product Category": category,
                    "Quantity": 1,
                    "Price per Unit": int(amount),
                    "Total Amount": int(amount),
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
