"""Summary statistics and rolling mean of the Explore tab."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ui.series_stats import SUMMARY_COLUMNS, rolling_mean, summarize, summary_frame


def _series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"), dtype=float)


def test_summarize_counts_days_totals_and_zero_share() -> None:
    summary = summarize("Beauty", _series([0.0, 10.0, 20.0, 0.0]))
    assert summary.days == 4
    assert summary.total == 30.0
    assert summary.mean == 7.5
    assert summary.std == pytest.approx(np.std([0, 10, 20, 0], ddof=1))
    assert summary.last_date == date(2024, 1, 4)
    assert summary.zero_share == 0.5


def test_summarize_empty_series_has_no_last_date() -> None:
    summary = summarize("Beauty", _series([]))
    assert (summary.days, summary.total, summary.last_date) == (0, 0.0, None)
    assert summary.as_row()[5] == "—"


def test_an_empty_range_shows_no_mean_rather_than_zero() -> None:
    """Issue 13: an empty range showed "Mean 0.00"; a range without days has no mean, total or spread."""
    row = dict(zip(SUMMARY_COLUMNS, summarize("Beauty", _series([])).as_row(), strict=True))
    assert row["Days"] == 0
    assert [row[name] for name in ("Total", "Mean / day", "Std / day", "Days without sales")] == ["—"] * 4


def test_summary_frame_formats_one_row_per_category() -> None:
    frame = summary_frame({"Beauty": _series([1000.0, 0.0]), "Clothing": _series([5.0])})
    assert list(frame.columns) == SUMMARY_COLUMNS
    assert frame.iloc[0].tolist() == ["Beauty", 2, "1,000.00", "500.00", "707.11", "2024-01-02", "50.0%"]
    assert frame.iloc[1]["Std / day"] == "0.00"  # one day: no spread


def test_rolling_mean_waits_for_a_full_window() -> None:
    mean = rolling_mean(_series([1.0, 2.0, 3.0, 4.0]), 3)
    assert np.isnan(mean.iloc[1])
    assert mean.iloc[2:].tolist() == [2.0, 3.0]


def test_rolling_mean_rejects_a_zero_window() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        rolling_mean(_series([1.0]), 0)
