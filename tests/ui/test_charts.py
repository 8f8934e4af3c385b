"""Charts have labelled axes, dates on x, and the forecast drawn after its inputs."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ui.charts import DATE_AXIS_LABEL, SALES_AXIS_LABEL, history_figure, message_figure, prediction_figure


def _xs(line: Line2D) -> list[Any]:
    return list(np.asarray(line.get_xdata(), dtype=object))


def _ys(line: Line2D) -> list[float]:
    return [float(value) for value in np.asarray(line.get_ydata(), dtype=float)]


def _series(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="D"), dtype=float)


def test_history_figure_labels_axes_and_cuts_the_warm_up() -> None:
    series = _series([float(v) for v in range(20)])
    figure = history_figure({"Beauty": series}, window=7, shown_from=pd.Timestamp("2024-01-07"))
    axes = figure.axes[0]
    assert axes.get_xlabel() == DATE_AXIS_LABEL
    assert axes.get_ylabel() == SALES_AXIS_LABEL
    daily, mean = axes.get_lines()
    assert daily.get_label() == "Beauty (daily)" and mean.get_label() == "Beauty (7-day mean)"
    first_day = pd.Timestamp(_xs(daily)[0]).date()
    assert first_day == date(2024, 1, 7)
    # the mean is defined from the first shown day because 6 warm-up days fed it
    assert not np.isnan(_ys(mean)[0])
    assert _ys(mean)[0] == 3.0  # mean of 0..6


def test_history_figure_without_categories_says_so() -> None:
    figure = history_figure({}, window=7)
    assert "Pick at least one category" in [text.get_text() for text in figure.axes[0].texts]


def test_prediction_figure_puts_the_forecast_one_day_after_the_inputs() -> None:
    figure = prediction_figure("Beauty", [1.0, 2.0, 3.0], 4.5, "v1", last_input_date=date(2024, 3, 10))
    axes = figure.axes[0]
    assert axes.get_xlabel() == DATE_AXIS_LABEL and axes.get_ylabel() == SALES_AXIS_LABEL
    inputs, _, forecast = axes.get_lines()
    assert _ys(inputs) == [1.0, 2.0, 3.0]
    assert _ys(forecast) == [4.5]
    assert pd.Timestamp(_xs(forecast)[0]).date() == date(2024, 3, 11)
    assert pd.Timestamp(_xs(inputs)[-1]).date() == date(2024, 3, 10)
    assert "4.50" in axes.get_title()


def test_prediction_figure_without_dates_counts_days_to_the_forecast() -> None:
    axes = prediction_figure("Beauty", [5.0, 6.0], 7.0, "v1").axes[0]
    inputs, _, forecast = axes.get_lines()
    assert _xs(inputs) == [-2, -1] and _xs(forecast) == [0]
    assert "relative" in axes.get_xlabel()


def test_message_figure_has_no_ticks() -> None:
    axes = message_figure("Daily sales", "No data").axes[0]
    assert list(axes.get_xticks()) == [] and [t.get_text() for t in axes.texts] == ["No data"]
