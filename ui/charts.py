"""Matplotlib figures for the UI: daily sales with a rolling mean, and a prediction after its inputs.

Figures are built with the object API (`Figure`, no pyplot state), so concurrent requests in
Gradio's worker threads cannot draw into each other's charts. Every chart has labelled axes:
dates on x, sales on y.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ui.series_stats import rolling_mean

SALES_AXIS_LABEL = "Sales per day (total amount)"
DATE_AXIS_LABEL = "Date"
FIGSIZE = (10.0, 4.2)
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _thousands(value: float, _position: int) -> str:
    return f"{value:,.0f}"


def _new_axes(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    return figure, axes


def _date_axis(axes: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_xlabel(DATE_AXIS_LABEL)


def message_figure(title: str, message: str) -> Figure:
    """An empty chart that says why there is nothing to show (keeps the layout stable)."""
    figure, axes = _new_axes(title)
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, wrap=True, transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])
    return figure


def history_figure(
    series_by_category: Mapping[str, pd.Series], window: int, shown_from: pd.Timestamp | None = None
) -> Figure:
    """Daily sales (thin, light) and their `window`-day rolling mean (thick), one colour per category.

    Each series may start `window - 1` days before the range to show, so the rolling mean is
    defined from the first shown day; those warm-up days are cut after the mean is computed.
    """
    title = f"Daily sales and {window}-day rolling mean"
    if not series_by_category:
        return message_figure(title, "Pick at least one category")
    figure, axes = _new_axes(title)
    for index, (category, series) in enumerate(series_by_category.items()):
        colour = _PALETTE[index % len(_PALETTE)]
        mean = rolling_mean(series, window)
        if shown_from is not None:
            series, mean = series[series.index >= shown_from], mean[mean.index >= shown_from]
        axes.plot(
            series.index,
            series.to_numpy(),
            color=colour,
            alpha=0.35,
            linewidth=0.8,
            label=f"{category} (daily)",
        )
        axes.plot(
            mean.index, mean.to_numpy(), color=colour, linewidth=2.2, label=f"{category} ({window}-day mean)"
        )
    _date_axis(axes)
    axes.set_ylabel(SALES_AXIS_LABEL)
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", fontsize=9, ncols=min(len(series_by_category), 3))
    return figure


def prediction_figure(
    category: str,
    inputs: Sequence[float],
    prediction: float,
    model_version: str,
    last_input_date: date | None = None,
) -> Figure:
    """The N inputs as a line and the forecast as a marked point one day after them.

    With `last_input_date` (inputs taken from the history) the x axis shows real dates;
    otherwise days are counted relative to the forecast day (day 0 = the forecast).
    """
    title = f"{category}: next-day forecast {prediction:,.2f} (model {model_version})"
    figure, axes = _new_axes(title)
    count = len(inputs)
    # x positions: real days when known, else day offsets; index 0..count-1 are inputs, count is the forecast
    xs: pd.DatetimeIndex | np.ndarray
    if last_input_date is not None:
        xs = pd.date_range(
            end=pd.Timestamp(last_input_date) + pd.Timedelta(days=1), periods=count + 1, freq="D"
        )
    else:
        xs = np.arange(-count, 1)
    axes.plot(
        xs[:count],
        list(inputs),
        marker="o",
        markersize=4,
        color=_PALETTE[0],
        label=f"last {count} days (input)",
    )
    axes.plot(xs[count - 1 :], [inputs[-1], prediction], linestyle="--", color=_PALETTE[3], linewidth=1.2)
    axes.plot(
        xs[count:],
        [prediction],
        marker="*",
        markersize=16,
        color=_PALETTE[3],
        linestyle="none",
        label="forecast",
    )
    axes.annotate(
        f"{prediction:,.2f}",
        (xs[count], prediction),
        textcoords="offset points",
        xytext=(-10, 12),
        ha="right",
        color=_PALETTE[3],
        fontweight="bold",
    )
    if last_input_date is not None:
        _date_axis(axes)
    else:
        axes.set_xlabel("Day relative to the forecast (0 = the forecast day)")
    axes.set_ylabel(SALES_AXIS_LABEL)
    low = min(0.0, min(inputs), prediction)
    axes.set_ylim(bottom=low)
    axes.legend(loc="upper left", fontsize=9)
    return figure
