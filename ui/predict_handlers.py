"""What the Predict tab's events do, each answering with a named view of the components it fills.

N (the window size) and the days ahead a model forecasts come from `GET /api/models`. Choosing a
category refills everything from that category (its last N days), so no value, date, headline or
chart of another category survives a switch; filling from the history also writes the date of its
last day, which "Predict" sends as `last_date` for a version's calendar terms. "Predict" sends the box
to `POST /api/predict`; "Forecast tomorrow" asks `GET /api/forecast/{category}`. Both draw the same
chart (`predict_chart`) and say how the calendar terms were used (the answer's `calendar`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from ui.api_models import CalendarUse, ForecastStep, ForecastTotal, History
from ui.downloads import write_csv
from ui.formatting import forecast_markdown, format_sales, message_html, prediction_markdown
from ui.gateway_client import GatewayClient, GatewayError
from ui.input_parsing import InputError, parse_sales_text, sales_entries
from ui.predict_chart import ForecastChart, empty_chart, forecast_chart
from ui.predict_inputs import (
    BoxMirror,
    FilledInputs,
    Synced,
    TableMirror,
    horizon_within,
    mirror_box,
    mirror_table,
    outlier_warning,
    parse_horizon,
    parse_last_date,
    table_for,
)
from ui.updates import Skip, skip

FILL_LABEL = "Use the last N days"


class ServedWindow(NamedTuple):
    """What the page needs of a category's served model."""

    size: int
    version: str
    max_horizon: int


class PredictView(NamedTuple):
    """A forecast: headline, chart, message (error or warning) and the CSV download."""

    result: str
    chart: go.Figure | None
    message: str
    download: str | None


class FillView(NamedTuple):
    """The box, table, box check, remembered dates and the last value's date refilled from the
    history (skipped on errors)."""

    text: str | Skip
    table: pd.DataFrame | Skip
    check: str | Skip
    filled: FilledInputs | None
    synced: Synced | Skip
    message: str
    last_date: str | Skip


class ChooseView(NamedTuple):
    """A new category: its model's window line and days-ahead limit, the refilled inputs, and the
    previous category's forecast cleared."""

    window_info: str
    horizon: gr.Number | Skip
    fill: gr.Button
    text: str
    table: pd.DataFrame
    check: str | Skip
    filled: FilledInputs | None
    synced: Synced | Skip
    result: str
    chart: go.Figure | None
    message: str
    download: None
    last_date: str | Skip


@dataclass
class PredictHandlers:
    """Event handlers of the Predict tab (plain methods, so tests call them directly too)."""

    client: GatewayClient
    history_days: int = 90
    outlier_factor: float = 1.0

    def served_window(self, category: str) -> ServedWindow:
        """N, served version and days-ahead limit of `category`; GatewayError when the gateway cannot say."""
        for model in self.client.models().models:
            if model.category == category:
                if model.window_size is None:
                    raise GatewayError(f"{category} has no served model yet, so its window size is unknown")
                return ServedWindow(model.window_size, model.default_version or "unknown", model.max_horizon)
        raise GatewayError(f"the gateway serves no model for category {category!r}")

    def choose(self, category: str | None, horizon: float | str | None = None) -> ChooseView:
        """A new category: window line, days-ahead limit, fill label, and everything refilled from its
        last N days (or cleared, with the reason, when that is not possible)."""
        if not category:
            return _cleared("Choose a category.", "")
        try:
            served = self.served_window(category)
        except GatewayError as exc:
            return _cleared("", message_html("error", str(exc)))
        info = (
            f"The served model (version `{served.version}`) reads the last **{served.size}** days, "
            f"oldest first, and forecasts up to {_days(served.max_horizon)} ahead."
        )
        refill = self._refill(category, served.size)
        text, table, check, synced = refill.text, refill.table, refill.check, refill.synced
        last_date = refill.last_date
        if not isinstance(text, str) or not isinstance(table, pd.DataFrame):
            # the history could not be read: clear what belonged to the old category
            text, table, check, synced, last_date = "", table_for([], served.size), "", (), ""
        return ChooseView(
            window_info=info,
            horizon=gr.Number(value=horizon_within(horizon, served.max_horizon), maximum=served.max_horizon),
            fill=gr.Button(value=fill_label(served.size)),
            text=text,
            table=table,
            check=check,
            filled=refill.filled,
            synced=synced,
            result="",
            chart=empty_chart(),
            message=refill.message,
            download=None,
            last_date=last_date,
        )

    def fill_last_days(self, category: str | None) -> FillView:
        """The box, the table, the box's check and the remembered dates from the last N days of the
        history (the box is left as it was when they cannot be read)."""
        if not category:
            return FillView(
                "", table_for([]), "", None, (), message_html("error", "Choose a category first."), skip()
            )
        try:
            size = self.served_window(category).size
        except GatewayError as exc:
            return _not_filled(str(exc))
        return self._refill(category, size)

    def text_to_table(self, text: str, filled: FilledInputs | None) -> TableMirror:
        """Mirror the box in the table (see `predict_inputs.mirror_box`)."""
        return mirror_box(text, filled)

    def table_to_text(self, table: pd.DataFrame | None, synced: Synced | None = None) -> BoxMirror:
        """Mirror the table in the box (see `predict_inputs.mirror_table`)."""
        return mirror_table(table, synced)

    def predict(
        self,
        category: str | None,
        text: str,
        filled: FilledInputs | None,
        horizon: float | str | None = 1,
        last_date: str | None = None,
    ) -> PredictView:
        """Headline, chart, message and CSV for a forecast from the values in the box, sent with the
        date of the last value when given (nothing on errors)."""
        if not category:
            return _failed("Choose a category.")
        try:
            days_ahead = parse_horizon(horizon)
            values = parse_sales_text(text)
            day = parse_last_date(last_date)
            answer = self.client.predict(category, values, days_ahead, day)
        except (InputError, GatewayError) as exc:
            return _failed(_cannot("predict", exc))
        history: History | None
        try:
            history = self.client.history(category)
        except GatewayError:
            history = None  # the forecast stands on its own; only the context and the check are missing
        dates = filled.dates if filled is not None and filled.category == category else ()
        input_days: list[Any]
        if len(dates) == len(values):
            input_days = list(pd.to_datetime(list(dates)))
        else:
            input_days = list(range(1 - len(values), 1))
        steps = answer.steps()
        warning = outlier_warning(category, values, history.sales, self.outlier_factor) if history else ""
        headline = prediction_markdown(
            category, steps[0].prediction, answer.model_version, answer.window_size
        )
        chart = forecast_chart(
            category, answer.model_version, values, input_days, steps, history, self.history_days
        )
        return _forecast_view(
            category,
            headline,
            steps,
            chart,
            message_html("warning", warning) if warning else "",
            answer.total,
            answer.calendar,
        )

    def forecast_tomorrow(self, category: str | None, horizon: float | str | None = 1) -> PredictView:
        """The gateway's forecast of the days after the stored history, drawn like a prediction."""
        if not category:
            return _failed("Choose a category.")
        try:
            days_ahead = parse_horizon(horizon)
            answer = self.client.forecast(category, days_ahead)
            history = self.client.history(category)
        except (InputError, GatewayError) as exc:
            return _failed(_cannot("forecast", exc))
        size = answer.window_size or 0
        inputs = history.sales[-size:] if size else []
        input_days = list(pd.to_datetime(history.dates[-size:])) if size else []
        steps = answer.steps()
        chart = forecast_chart(
            category, answer.model_version, inputs, input_days, steps, history, self.history_days
        )
        headline = forecast_markdown(
            category, answer.date, steps[0].prediction, answer.model_version, answer.history_end
        )
        return _forecast_view(category, headline, steps, chart, "", answer.total, answer.calendar)

    def _refill(self, category: str, size: int) -> FillView:
        try:
            history = self.client.history(category)
        except GatewayError as exc:
            return _not_filled(str(exc))
        if len(history.sales) < size:
            return _not_filled(
                f"{category} has only {len(history.sales)} days of history; the model needs {size}."
            )
        values, dates = history.sales[-size:], history.dates[-size:]
        entries = sales_entries(values)
        return FillView(
            text=", ".join(entries),
            table=table_for(entries, dates=dates),
            check="",
            filled=FilledInputs(category, tuple(dates)),
            synced=tuple(entries),
            message=message_html("info", f"Filled with {category}'s sales from {dates[0]} to {dates[-1]}."),
            last_date=dates[-1],
        )


def fill_label(size: int | None) -> str:
    """The fill button's label: the model's N once it is known."""
    return f"Use the last {size} days" if size else FILL_LABEL


def _cleared(window_info: str, message: str) -> ChooseView:
    """No category, or one without a served model: nothing of the previous category stays."""
    return ChooseView(
        window_info=window_info,
        horizon=skip(),
        fill=gr.Button(value=FILL_LABEL),
        text="",
        table=table_for([]),
        check="",
        filled=None,
        synced=(),
        result="",
        chart=empty_chart(),
        message=message,
        download=None,
        last_date="",
    )


def _forecast_view(
    category: str,
    headline: str,
    steps: Sequence[ForecastStep],
    chart: ForecastChart,
    message: str,
    total: ForecastTotal | None,
    calendar: CalendarUse | None,
) -> PredictView:
    """What Predict and Forecast tomorrow both show: the headline (with the days ahead, how the
    calendar terms were used, and the days' total), the chart, the message and the chart's numbers
    as a CSV."""
    return PredictView(
        result=headline + _horizon_line(len(steps)) + calendar_line(calendar) + total_line(total),
        chart=chart.figure,
        message=message,
        download=write_csv(chart.frame, f"forecast-{category}"),
    )


def _not_filled(reason: str) -> FillView:
    return FillView(skip(), skip(), skip(), None, skip(), message_html("error", reason), skip())


def _failed(message: str) -> PredictView:
    return PredictView("", None, message_html("error", message), None)


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def total_line(total: ForecastTotal | None) -> str:
    """`Total of 7 days: **7,243.00** · 80 %: 6,211.80 – 8,274.20 · 95 %: …` on a line of its own (the
    total's own intervals: the days' bounds do not add up), or the gateway's note why it has none."""
    if total is None:
        return ""
    parts = [f"Total of {_days(total.days)}: **{format_sales(total.prediction)}**"]
    if total.intervals is not None:
        parts += [
            f"{interval.level:g} %: {format_sales(interval.lower)} – {format_sales(interval.upper)}"
            for interval in total.intervals
        ]
    elif total.note:
        parts.append(total.note)
    return "\n\n" + " · ".join(parts)


def calendar_line(calendar: CalendarUse | None) -> str:
    """How the version used the last value's date, on a line of its own: what it drove (weekday,
    holidays, season), with the gateway's note (why not, or what to know); empty for a version
    without calendar terms asked without a date."""
    if calendar is None:
        return ""
    if calendar.applied:
        used = f": {', '.join(calendar.uses)}" if calendar.uses else ""
        text = f"Calendar applied from the last value's date ({calendar.last_date}){used}."
        return "\n\n" + (f"{text} {_sentence(calendar.note)}" if calendar.note else text)
    return "\n\n" + _sentence(calendar.note or "Calendar terms not applied.")


def _sentence(text: str) -> str:
    """`text` with a capital first letter and a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _horizon_line(days: int) -> str:
    return f" · {days} days ahead (table in the CSV)" if days > 1 else ""


def _cannot(action: str, exc: Exception) -> str:
    return f"Could not {action}: {exc}"
