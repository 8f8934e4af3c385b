"""Interactive charts for the UI (plotly, drawn in the page by Gradio's bundled plotly.js: no CDN).

Every chart has hover values, zoom and pan; dates on x always carry the year; legends sit below the
plot so they never cover data. Figures are plain `go.Figure` objects built per request, so
concurrent requests in Gradio's worker threads cannot draw into each other's charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ui.series_stats import rolling_mean

SALES_AXIS_LABEL = "Sales per day (total amount)"
DATE_AXIS_LABEL = "Date"
DATE_TICKS = "%Y-%m-%d"
DATE_HOVER = "%a %Y-%m-%d"
HEIGHT = 430
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
FORECAST_COLOUR = "#d62728"
SEASONAL_COLOUR = "#ff7f0e"
CONTEXT_COLOUR = "#7f7f7f"
_BASELINE_STYLES = {
    "seasonal_naive": ("Seasonal naive (same weekday last week)", SEASONAL_COLOUR, "dash"),
    "naive": ("Naive (yesterday)", "#9467bd", "dot"),
    "moving_average": ("Moving average", "#2ca02c", "dashdot"),
}


@dataclass(frozen=True)
class ForecastBand:
    """A prediction interval at one level, per forecast day."""

    level: float
    lower: Sequence[float]
    upper: Sequence[float]


def _layout(
    figure: go.Figure, title: str, *, dates: bool = True, y_title: str = SALES_AXIS_LABEL
) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "xanchor": "left", "x": 0.0},
        template="plotly_white",
        yaxis={"title": {"text": y_title}, "tickformat": ",.0f", "rangemode": "tozero"},
    )
    if dates:
        figure.update_xaxes(title={"text": DATE_AXIS_LABEL}, tickformat=DATE_TICKS, hoverformat=DATE_HOVER)
    return figure


def _add_line(figure: go.Figure, series: pd.Series, name: str, line: dict[str, Any], **style: Any) -> None:
    """Draw a dated series (its index on x) as a plain line."""
    figure.add_scatter(x=series.index, y=series.to_numpy(), name=name, mode="lines", line=line, **style)


def message_figure(title: str, message: str) -> go.Figure:
    """An empty chart that says why there is nothing to show (keeps the layout stable)."""
    figure = go.Figure()
    figure.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 15}
    )
    _layout(figure, title, dates=False)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def history_figure(
    series_by_category: Mapping[str, pd.Series], window: int, shown_from: pd.Timestamp | None = None
) -> go.Figure:
    """Daily sales (thin, light) and their `window`-day rolling mean (thick), one colour per category.

    Each series may start `window - 1` days before the range to show, so the rolling mean is
    defined from the first shown day; those warm-up days are cut after the mean is computed.
    """
    title = f"Daily sales and {window}-day rolling mean"
    if not series_by_category:
        return message_figure(title, "Pick at least one category")
    figure = go.Figure()
    for index, (category, series) in enumerate(series_by_category.items()):
        colour = PALETTE[index % len(PALETTE)]
        mean = rolling_mean(series, window)
        if shown_from is not None:
            series, mean = series[series.index >= shown_from], mean[mean.index >= shown_from]
        _add_line(figure, series, f"{category} (daily)", {"color": colour, "width": 1}, opacity=0.4)
        _add_line(figure, mean, f"{category} ({window}-day mean)", {"color": colour, "width": 2.5})
    return _layout(figure, title)


def prediction_figure(
    title: str,
    inputs: Sequence[float],
    forecast: Sequence[float],
    seasonal_naive: Sequence[float],
    *,
    input_days: Sequence[Any],
    forecast_days: Sequence[Any],
    context: pd.Series | None = None,
    bands: Sequence[ForecastBand] = (),
) -> go.Figure:
    """The days before the forecast (`context`, e.g. the last 90 days of history), the model's inputs,
    the forecast with its intervals, and the seasonal-naive forecast of the same days beside it.

    `input_days`/`forecast_days` are dates (inputs from the history) or day offsets (typed inputs:
    0 = the last input day), so typed values are drawn without inventing dates.
    """
    dated = bool(input_days) and not isinstance(input_days[0], int | float)
    figure = go.Figure()
    if context is not None and len(context):
        _add_line(figure, context, "history", {"color": CONTEXT_COLOUR, "width": 1.2})
    figure.add_scatter(
        x=list(input_days),
        y=list(inputs),
        name=f"last {len(inputs)} days (model input)",
        mode="lines+markers",
        line={"color": PALETTE[0], "width": 2},
        marker={"size": 5},
    )
    for band in sorted(bands, key=lambda item: -item.level):
        label = f"{band.level:g}% interval"
        figure.add_scatter(
            x=[*forecast_days, *reversed(forecast_days)],
            y=[*band.upper, *reversed(band.lower)],
            name=label,
            fill="toself",
            mode="lines",
            line={"width": 0},
            fillcolor=f"rgba(214, 39, 40, {0.12 if band.level >= 90 else 0.22})",
            hoverinfo="skip",
        )
        for edge, values in (("upper", band.upper), ("lower", band.lower)):
            # invisible, so the unified hover lists each edge's value
            figure.add_scatter(
                x=list(forecast_days),
                y=list(values),
                name=f"{edge} {label}",
                mode="lines",
                line={"width": 0},
                showlegend=False,
            )
    bridge_x = [input_days[-1], *forecast_days] if input_days else list(forecast_days)
    bridge_y = [inputs[-1], *forecast] if inputs else list(forecast)
    figure.add_scatter(
        x=bridge_x,
        y=bridge_y,
        name="forecast (model)",
        mode="lines+markers",
        line={"color": FORECAST_COLOUR, "width": 2.5, "dash": "solid"},
        marker={"size": [0, *([11] * len(forecast))] if inputs else 11, "symbol": "star"},
    )
    if seasonal_naive:
        figure.add_scatter(
            x=list(forecast_days),
            y=list(seasonal_naive),
            name="seasonal naive (same weekday last week)",
            mode="lines+markers",
            line={"color": SEASONAL_COLOUR, "width": 1.5, "dash": "dash"},
            marker={"size": 7, "symbol": "diamond"},
        )
    _layout(figure, title, dates=dated)
    if not dated:
        figure.update_xaxes(
            title={"text": "Day relative to the last input (0 = last input, 1 = forecast day)"}
        )
    lowest = min([0.0, *inputs, *forecast, *(low for band in bands for low in band.lower)])
    if lowest < 0:
        figure.update_yaxes(rangemode="normal")
    return figure


def loss_figure(
    title: str, losses: Mapping[str, tuple[Sequence[float], Sequence[float | None]]]
) -> go.Figure:
    """Training (thin) and validation (thick) loss per epoch for each category (normalized units);
    each category's best validation epoch is circled."""
    if not any(train for train, _ in losses.values()):
        return message_figure(title, "No epoch finished yet")
    figure = go.Figure()
    for index, (category, (train, val)) in enumerate(losses.items()):
        colour = PALETTE[index % len(PALETTE)]
        epochs = list(range(1, len(train) + 1))
        figure.add_scatter(
            x=epochs,
            y=list(train),
            name=f"{category} training",
            mode="lines+markers",
            line={"color": colour, "width": 1, "dash": "dot"},
            marker={"size": 4},
        )
        figure.add_scatter(
            x=epochs[: len(val)],
            y=list(val),
            name=f"{category} validation",
            mode="lines+markers",
            line={"color": colour, "width": 2.5},
            marker={"size": 6},
        )
        finite = [(loss, epoch) for epoch, loss in zip(epochs, val, strict=False) if loss is not None]
        if finite:
            best, epoch = min(finite)
            figure.add_scatter(
                x=[epoch],
                y=[best],
                name=f"{category} best epoch ({epoch})",
                mode="markers",
                marker={"size": 14, "symbol": "circle-open", "color": colour, "line": {"width": 2}},
            )
    _layout(figure, title, dates=False, y_title="Loss (normalized units)")
    figure.update_yaxes(tickformat=".3f", rangemode="normal")
    figure.update_xaxes(title={"text": "Epoch"})
    return figure


def backtest_figure(
    title: str, dates: Sequence[str], actual: Sequence[float], forecasts: Mapping[str, Sequence[float]]
) -> go.Figure:
    """The served version's test days: actual sales, the model's one-step forecasts and each baseline."""
    days = pd.to_datetime(list(dates))
    figure = go.Figure()
    figure.add_scatter(
        x=days, y=list(actual), name="actual", mode="lines", line={"color": "black", "width": 2}
    )
    for name, values in forecasts.items():
        if name == "model":
            figure.add_scatter(
                x=days, y=list(values), name="model", mode="lines", line={"color": PALETTE[0], "width": 2}
            )
            continue
        label, colour, dash = _BASELINE_STYLES.get(name, (name.replace("_", " "), CONTEXT_COLOUR, "dot"))
        figure.add_scatter(
            x=days,
            y=list(values),
            name=label,
            mode="lines",
            line={"color": colour, "width": 1.3, "dash": dash},
        )
    return _layout(figure, title)
