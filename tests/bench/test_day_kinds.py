"""The bench's split of target days into public holidays, the Nov–Dec season and the rest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from salescast.bench.day_kinds import day_kinds, segment_scores


def test_christmas_and_new_year_are_holidays_the_rest_of_december_is_the_season() -> None:
    dates = pd.date_range("2025-12-20", "2026-01-05", freq="D")
    kinds = day_kinds(dates, "US")
    assert list(dates[kinds["holidays"]].strftime("%m-%d")) == ["12-25", "01-01"]
    assert int(kinds["nov_dec"].sum()) == 11  # Dec 20–31 without the 25th
    assert list(dates[kinds["rest"]].strftime("%m-%d")) == ["01-02", "01-03", "01-04", "01-05"]
    assert np.all(kinds["holidays"].astype(int) + kinds["nov_dec"] + kinds["rest"] == 1)


def test_the_country_decides_the_holidays() -> None:
    dates = pd.date_range("2025-12-24", "2025-12-27", freq="D")
    assert list(dates[day_kinds(dates, "GB")["holidays"]].day) == [25, 26]  # Boxing Day
    assert list(dates[day_kinds(dates, "US")["holidays"]].day) == [25]


def test_segment_scores_are_the_rmse_ratio_and_the_bias_on_those_days() -> None:
    actual = np.array([10.0, 10.0, 0.0, 4.0])
    mask = np.array([True, True, False, False])
    # the model is 2 high on both days (RMSE 2, bias +2 = +20 % of 10), the reference 4 low (RMSE 4)
    scores = segment_scores(actual, [actual + 2.0], actual - 4.0, mask)
    assert scores == pytest.approx({"days": 2, "model_to_reference": 0.5, "bias_percent": 20.0})
    nothing_sold = segment_scores(np.zeros(2), [np.ones(2)], np.ones(2), np.ones(2, dtype=bool))
    assert math.isnan(nothing_sold["bias_percent"])
