"""Charts are interactive plotly figures: labelled axes, dates with years, legends off the data, the
forecast after its inputs with the seasonal-naive forecast and intervals beside it."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from ui.charts import (
    DATE_AXIS_LABEL,
    SALES_AXIS_LABEL,
    ForecastBand,
    backtest_figure,
    history_figure,
    loss_figure,
    message_figure,
    prediction_figure,
)


def _series(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="D"), dtype=float)


def _traces(figure: Any) -> dict[str, Any]:
    return {trace.name: trace for trace in figure.data}


def test_history_figure_labels_axes_and_cuts_the_warm_up() -> None:
    series = _series([float(v) for v in range(20)])
    figure = history_figure({"Beauty": series}, window=7, shown_from=pd.Timestamp("2024-01-07"))
    assert figure.layout.xaxis.title.text == DATE_AXIS_LABEL
    assert figure.layout.yaxis.title.text == SALES_AXIS_LABEL
    traces = _traces(figure)
    daily, mean = traces["Beauty (daily)"], traces["Beauty (7-day mean)"]
    assert pd.Timestamp(daily.x[0]).date().isoformat() == "2024-01-07"
    assert mean.y[0] == 3.0  # mean of 0..6: the 6 warm-up days fed it


def test_dates_carry_the_year_and_the_legend_sits_below_the_data() -> None:
    """Issue 13: the legend covered data and the axis had no year."""
    figure = history_figure({"Beauty": _series([1.0] * 30), "Clothing": _series([2.0] * 30)}, window=7)
    assert figure.layout.xaxis.tickformat == "%Y-%m-%d"
    assert "%Y" in figure.layout.xaxis.hoverformat
    assert figure.layout.legend.orientation == "h" and figure.layout.legend.y < 0
    assert figure.layout.hovermode == "x unified"


def test_history_figure_without_categories_says_so() -> None:
    figure = history_figure({}, window=7)
    assert figure.layout.annotations[0].text == "Pick at least one category"


def test_prediction_figure_draws_context_forecast_interval_and_seasonal_naive() -> None:
    context = _series([float(v) for v in range(90)])
    inputs = list(context.to_numpy()[-14:])
    days = list(context.index[-14:])
    forecast_days = [context.index[-1] + pd.Timedelta(days=1), context.index[-1] + pd.Timedelta(days=2)]
    band = ForecastBand(80.0, [80.0, 81.0], [100.0, 101.0])
    figure = prediction_figure(
        "Beauty",
        inputs,
        [90.0, 91.0],
        [83.0, 84.0],
        input_days=days,
        forecast_days=forecast_days,
        context=context,
        bands=[band],
    )
    traces = _traces(figure)
    assert len(traces["history"].x) == 90
    assert list(traces["forecast (model)"].y) == [89.0, 90.0, 91.0]  # bridged from the last input
    assert pd.Timestamp(traces["forecast (model)"].x[1]) == forecast_days[0]
    assert list(traces["seasonal naive (same weekday last week)"].y) == [83.0, 84.0]
    assert traces["80% interval"].fill == "toself"
    assert figure.layout.xaxis.title.text == DATE_AXIS_LABEL


def test_prediction_figure_without_dates_counts_days() -> None:
    figure = prediction_figure("Beauty", [5.0, 6.0], [7.0], [], input_days=[-1, 0], forecast_days=[1])
    assert list(_traces(figure)["last 2 days (model input)"].x) == [-1, 0]
    assert "relative" in figure.layout.xaxis.title.text


def test_loss_figure_marks_the_best_epoch() -> None:
    figure = loss_figure("Loss", {"Beauty": ([1.0, 0.8, 0.7], [0.9, 0.6, 0.65])})
    best = _traces(figure)["Beauty best epoch (2)"]
    assert list(best.x) == [2] and list(best.y) == [0.6]
    assert loss_figure("Loss", {"Beauty": ([], [])}).layout.annotations[0].text == "No epoch finished yet"


def test_backtest_figure_names_every_forecaster() -> None:
    figure = backtest_figure(
        "t",
        ["2024-01-01", "2024-01-02"],
        [1.0, 2.0],
        {"model": [1.1, 2.1], "seasonal_naive": [0.5, 1.5], "moving_average": [1.0, 1.0]},
    )
    assert set(_traces(figure)) == {
        "actual",
        "model",
        "Seasonal naive (same weekday last week)",
        "Moving average",
    }


@pytest.mark.parametrize("title", ["Daily sales"])
def test_message_figure_hides_the_axes(title: str) -> None:
    figure = message_figure(title, "No data")
    assert figure.layout.annotations[0].text == "No data"
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
