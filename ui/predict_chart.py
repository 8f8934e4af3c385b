"""The Predict tab's chart and its CSV: the inputs in context, the forecast with its intervals, and
the seasonal-naive forecast of the same days.

The inputs are drawn on their dates when they were filled from the history (with the last
`ui.predict_history_days` days before them), else as days -N+1..0 and the forecast as 1..H.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd
import plotly.graph_objects as go

from ui.api_models import ForecastStep, History
from ui.charts import ForecastBand, message_figure, prediction_figure
from ui.formatting import format_sales

CHART_TITLE = "Inputs and forecast"
SEASON = 7


class ForecastChart(NamedTuple):
    """The drawn forecast and the same numbers as a table (the CSV download)."""

    figure: go.Figure
    frame: pd.DataFrame


def empty_chart() -> go.Figure:
    """What the chart shows before a forecast of the chosen category."""
    return message_figure(CHART_TITLE, "Press Predict or Forecast tomorrow")


def seasonal_naive(inputs: Sequence[float], horizon: int) -> list[float]:
    """Same weekday last week for each of the next `horizon` days (the last week repeated)."""
    if len(inputs) < SEASON:
        return []
    week = list(inputs[-SEASON:])
    return [week[step % SEASON] for step in range(horizon)]


def forecast_chart(
    category: str,
    version: str,
    inputs: Sequence[float],
    input_days: Sequence[Any],
    steps: Sequence[ForecastStep],
    history: History | None,
    history_days: int,
) -> ForecastChart:
    """The chart of a forecast from `inputs` (on `input_days`: dates, or day numbers up to 0), with
    the `history_days` days of `history` up to the last input when the inputs are dated."""
    dated = bool(input_days) and isinstance(input_days[0], pd.Timestamp)
    if dated:
        first = pd.Timestamp(input_days[-1]) + pd.Timedelta(days=1)
        forecast_days: list[Any] = list(pd.date_range(first, periods=len(steps), freq="D"))
    else:
        forecast_days = list(range(1, len(steps) + 1))
    context = None
    if dated and history is not None and history.dates:
        series = pd.Series(history.sales, index=pd.to_datetime(history.dates), dtype=float)
        end = pd.Timestamp(input_days[-1])
        context = series[(series.index <= end) & (series.index > end - pd.Timedelta(days=history_days))]
    predictions = [step.prediction for step in steps]
    naive = seasonal_naive(inputs, len(steps))
    bands = _bands(steps)
    title = f"{category}: forecast {format_sales(predictions[0])} (model {version})"
    figure = prediction_figure(
        title,
        inputs,
        predictions,
        naive,
        input_days=input_days,
        forecast_days=forecast_days,
        context=context,
        bands=bands,
    )
    return ForecastChart(figure, _forecast_frame(forecast_days, predictions, naive, bands, dated))


def _bands(steps: Sequence[ForecastStep]) -> list[ForecastBand]:
    """One band per interval level that every forecast day has."""
    levels = {interval.level for interval in steps[0].intervals}
    bands = []
    for level in sorted(levels):
        found = [next((i for i in step.intervals if i.level == level), None) for step in steps]
        if all(item is not None for item in found):
            lower = [item.lower for item in found if item is not None]
            upper = [item.upper for item in found if item is not None]
            bands.append(ForecastBand(level, lower, upper))
    return bands


def _forecast_frame(
    days: Sequence[Any],
    predictions: Sequence[float],
    naive: Sequence[float],
    bands: Sequence[ForecastBand],
    dated: bool,
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "date" if dated else "day": [day.date().isoformat() if dated else day for day in days],
            "forecast": list(predictions),
            "seasonal_naive": list(naive) if naive else [None] * len(predictions),
        }
    )
    for band in bands:
        frame[f"lower_{band.level:g}"] = list(band.lower)
        frame[f"upper_{band.level:g}"] = list(band.upper)
    return frame
