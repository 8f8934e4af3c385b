"""Predict tab: forecast from N values typed in (or taken from the history), drawn in context.

N is the served model's window size from `GET /api/models`. Choosing a category refills everything
from that category (its last N days), so no value, date, headline or chart of another category
survives a switch. The box and the table hold the same entries, text for text (an entry that is not
a number stays visible in both and is named in the message). "Predict" sends the box to
`POST /api/predict`; "Forecast tomorrow" asks `GET /api/forecast/{category}`. Both draw the same
chart: the last `ui.predict_history_days` days, the forecast (with its intervals when the model
gives them) and the seasonal-naive forecast of the same days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from ui.api_models import ForecastStep, History
from ui.charts import ForecastBand, message_figure, prediction_figure
from ui.downloads import write_csv
from ui.formatting import format_sales, message_html, prediction_markdown
from ui.gateway_client import GatewayClient, GatewayError
from ui.input_parsing import InputError, parse_sales_text, sales_tokens
from ui.updates import Skip, skip

TABLE_COLUMNS = ["Day", "Sales"]
CHART_TITLE = "Inputs and forecast"
FILL_LABEL = "Use the last N days"
SEASON = 7
MAX_HORIZON = 28
BOX_QUEUE = "predict-box"  # the events that rewrite the box and its table, one at a time in order
PredictView = tuple[str, go.Figure | None, str, str | None]
Synced = tuple[str, ...]  # the entries the box and its table last agreed on (a per-session gr.State)
ChooseView = tuple[
    str,
    gr.Button,
    str,
    pd.DataFrame,
    "str | Skip",
    "FilledInputs | None",
    "Synced | Skip",
    str,
    go.Figure | None,
    str,
    None,
]
FillView = tuple[
    "str | Skip", "pd.DataFrame | Skip", "str | Skip", "FilledInputs | None", "Synced | Skip", str
]
TextToTable = tuple[pd.DataFrame, str, Synced]
TableToText = tuple[str, str, Synced] | tuple[Skip, Skip, Skip]


@dataclass(frozen=True)
class FilledInputs:
    """Values put in from the history: the category and the days they stand for (kept while the
    number of entries stays the same, so an edited value keeps its date)."""

    category: str
    dates: tuple[str, ...]


def table_for(
    entries: Sequence[str], size: int | None = None, dates: Sequence[str] | None = None
) -> pd.DataFrame:
    """The input table: one row per entry (as typed), oldest first, padded with empty rows up to `size`."""
    rows: list[list[Any]] = []
    for index in range(max(len(entries), size or 0)):
        label = dates[index] if dates and index < len(dates) else f"day {index + 1}"
        rows.append([label, entries[index] if index < len(entries) else ""])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def entry_check(text: str) -> str:
    """The line under the box: names an entry that is not a number, else empty.

    It is its own line, not the tab's message, because a click on Predict blurs the box: the check
    and the forecast answer at about the same time and can land in either order, so a shared message
    could show the check's "all fine" over Predict's error (seen once in the browser test)."""
    try:
        if sales_tokens(text):
            parse_sales_text(text)
    except InputError as exc:
        return message_html("error", str(exc))
    return ""


def seasonal_naive(inputs: Sequence[float], horizon: int) -> list[float]:
    """Same weekday last week for each of the next `horizon` days (the last week repeated)."""
    if len(inputs) < SEASON:
        return []
    week = list(inputs[-SEASON:])
    return [week[step % SEASON] for step in range(horizon)]


def far_outside(values: Sequence[float], history: Sequence[float], factor: float) -> list[tuple[int, float]]:
    """(1-based position, value) of inputs more than `factor` history ranges below its minimum or above its
    maximum, and of negative inputs when the history has none."""
    if not history:
        return []
    low, high = min(history), max(history)
    span = max(high - low, abs(high), 1.0)
    flagged = []
    for position, value in enumerate(values, start=1):
        negative = value < 0 <= low
        if negative or value > high + factor * span or value < low - factor * span:
            flagged.append((position, value))
    return flagged


def parse_horizon(value: float | str | None) -> int:
    """The days-ahead box → 1..MAX_HORIZON (empty → 1)."""
    if value is None or value == "":
        return 1
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise InputError(f"days ahead {value!r} is not a number") from None
    if not days.is_integer() or not 1 <= days <= MAX_HORIZON:
        raise InputError(f"days ahead must be a whole number from 1 to {MAX_HORIZON}, got {value}")
    return int(days)


@dataclass
class PredictHandlers:
    """Event handlers of the Predict tab (plain methods, so tests call them directly too)."""

    client: GatewayClient
    history_days: int = 90
    outlier_factor: float = 1.0

    def window_size(self, category: str) -> tuple[int, str]:
        """(N, served version) of `category`; GatewayError when the gateway cannot say."""
        for model in self.client.models().models:
            if model.category == category:
                if model.window_size is None:
                    raise GatewayError(f"{category} has no served model yet, so its window size is unknown")
                return model.window_size, model.default_version or "unknown"
        raise GatewayError(f"the gateway serves no model for category {category!r}")

    def choose(self, category: str | None) -> ChooseView:
        """A new category: window line, fill label, and everything refilled from its last N days (or
        cleared, with the reason, when that is not possible)."""
        cleared = message_figure(CHART_TITLE, "Press Predict or Forecast tomorrow")
        if not category:
            return (
                "Choose a category.",
                gr.Button(value=FILL_LABEL),
                "",
                table_for([]),
                "",
                None,
                (),
                "",
                cleared,
                "",
                None,
            )
        try:
            size, version = self.window_size(category)
        except GatewayError as exc:
            error = message_html("error", str(exc))
            return "", gr.Button(value=FILL_LABEL), "", table_for([]), "", None, (), "", cleared, error, None
        info = f"The served model (version `{version}`) reads the last **{size}** days, oldest first."
        text, table, check, filled, synced, message = self.fill_last_days(category)
        if not isinstance(text, str) or not isinstance(table, pd.DataFrame):
            # the history could not be read: clear what belonged to the old category
            text, table, check, synced = "", table_for([], size), "", ()
        return (
            info,
            gr.Button(value=f"Use the last {size} days"),
            text,
            table,
            check,
            filled,
            synced,
            "",
            cleared,
            message,
            None,
        )

    def fill_last_days(self, category: str | None) -> FillView:
        """The box, the table, the box's check and the remembered dates from the last N days of the
        history (the box is left as it was when they cannot be read)."""
        if not category:
            return "", table_for([]), "", None, (), message_html("error", "Choose a category first.")
        try:
            size, _ = self.window_size(category)
            history = self.client.history(category)
        except GatewayError as exc:
            return skip(), skip(), skip(), None, skip(), message_html("error", str(exc))
        if len(history.sales) < size:
            text = f"{category} has only {len(history.sales)} days of history; the model needs {size}."
            return skip(), skip(), skip(), None, skip(), message_html("error", text)
        values, dates = history.sales[-size:], history.dates[-size:]
        filled = FilledInputs(category, tuple(dates))
        entries = [_short(value) for value in values]
        text = f"Filled with {category}'s sales from {dates[0]} to {dates[-1]}."
        table = table_for(entries, dates=dates)
        return ", ".join(entries), table, "", filled, tuple(entries), message_html("info", text)

    def text_to_table(self, text: str, filled: FilledInputs | None) -> TextToTable:
        """Mirror the box in the table, entry for entry, with the box's check and the entries both hold."""
        entries = sales_tokens(text)
        dates = filled.dates if filled is not None and len(filled.dates) == len(entries) else None
        return table_for(entries, dates=dates), entry_check(text), tuple(entries)

    def table_to_text(self, table: pd.DataFrame | None, synced: Synced | None = None) -> TableToText:
        """Mirror the table in the box, cell for cell (trailing empty rows dropped), with the box's check.

        Nothing when the box already holds these entries (`synced`, kept on the server, so a second
        request reads what the first wrote): the table sends one cell edit twice, on Enter and when the
        cell loses focus, and the late echo must not overwrite what the user has typed in the box since.
        """
        if table is None or "Sales" not in table:
            return skip(), skip(), skip()
        cells = ["" if _blank(cell) else str(cell).strip() for cell in table["Sales"].tolist()]
        while cells and cells[-1] == "":
            cells.pop()
        if synced is not None and tuple(cells) == synced:
            return skip(), skip(), skip()
        text = ", ".join(cells)
        return text, entry_check(text), tuple(cells)

    def predict(
        self, category: str | None, text: str, filled: FilledInputs | None, horizon: float | str | None = 1
    ) -> PredictView:
        """Headline, chart, message and CSV for a forecast from the values in the box (nothing on errors)."""
        if not category:
            return "", None, message_html("error", "Choose a category."), None
        try:
            days_ahead = parse_horizon(horizon)
            values = parse_sales_text(text)
            answer = self.client.predict(category, values, days_ahead)
        except (InputError, GatewayError) as exc:
            return "", None, message_html("error", _cannot("predict", exc)), None
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
        steps = _steps(answer.forecast, answer.prediction)
        warning = self._outlier_warning(category, values, history)
        headline = prediction_markdown(
            category, steps[0].prediction, answer.model_version, answer.window_size
        )
        figure, frame = self._chart(category, answer.model_version, values, input_days, steps, history)
        message = message_html("warning", warning) if warning else ""
        return headline + _horizon_line(steps), figure, message, write_csv(frame, f"forecast-{category}")

    def forecast_tomorrow(self, category: str | None, horizon: float | str | None = 1) -> PredictView:
        """The gateway's forecast of the days after the stored history, drawn like a prediction."""
        if not category:
            return "", None, message_html("error", "Choose a category."), None
        try:
            days_ahead = parse_horizon(horizon)
            answer = self.client.forecast(category, days_ahead)
            history = self.client.history(category)
        except (InputError, GatewayError) as exc:
            return "", None, message_html("error", _cannot("forecast", exc)), None
        size = answer.window_size or 0
        inputs = history.sales[-size:] if size else []
        input_days = list(pd.to_datetime(history.dates[-size:])) if size else []
        steps = _steps(answer.forecast, answer.prediction)
        figure, frame = self._chart(category, answer.model_version, inputs, input_days, steps, history)
        headline = (
            f"### Forecast for {category} on {answer.date}: **{format_sales(steps[0].prediction)}**\n"
            f"Model version `{answer.model_version}` · from the stored history up to {answer.history_end}"
        )
        return headline + _horizon_line(steps), figure, "", write_csv(frame, f"forecast-{category}")

    def _outlier_warning(self, category: str, values: Sequence[float], history: History | None) -> str:
        if history is None:
            return ""
        flagged = far_outside(values, history.sales, self.outlier_factor)
        if not flagged:
            return ""
        shown = ", ".join(f"value {position} ({value:,.6g})" for position, value in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        low, high = min(history.sales), max(history.sales)
        return (
            f"{shown}{more} lie far outside {category}'s history ({format_sales(low)} to "
            f"{format_sales(high)} a day): the model never saw such values, so this forecast is an "
            "extrapolation — check the inputs."
        )

    def _chart(
        self,
        category: str,
        version: str,
        inputs: Sequence[float],
        input_days: Sequence[Any],
        steps: Sequence[ForecastStep],
        history: History | None,
    ) -> tuple[go.Figure, pd.DataFrame]:
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
            context = series[
                (series.index <= end) & (series.index > end - pd.Timedelta(days=self.history_days))
            ]
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
        return figure, _forecast_frame(forecast_days, predictions, naive, bands, dated)


def _steps(forecast: Sequence[ForecastStep], prediction: float) -> list[ForecastStep]:
    """The answer's forecast days, or the one next-day prediction of a gateway without horizons."""
    return list(forecast) or [ForecastStep(step=1, prediction=prediction)]


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


def _horizon_line(steps: Sequence[ForecastStep]) -> str:
    if len(steps) < 2:
        return ""
    return f" · {len(steps)} days ahead (table in the CSV)"


def _cannot(action: str, exc: Exception) -> str:
    return f"Could not {action}: {exc}"


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, float) and pd.isna(cell)) or str(cell).strip() == ""


@dataclass
class PredictTab:
    """Components the app updates on load."""

    category: gr.Dropdown
    window_info: gr.Markdown
    message: gr.HTML


def build_predict_tab(handlers: PredictHandlers) -> PredictTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    filled = gr.State(None)
    synced = gr.State(None)  # Synced: what the box and the table last agreed on
    with gr.Row():
        category = gr.Dropdown(
            choices=[], allow_custom_value=True, label="Category", scale=1, elem_id="predict-category"
        )
        horizon = gr.Number(
            value=1,
            minimum=1,
            maximum=MAX_HORIZON,
            precision=0,
            label="Days ahead",
            scale=0,
            min_width=120,
            elem_id="predict-horizon",
        )
        window_info = gr.Markdown(elem_id="predict-window")
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(
                label="Daily sales, oldest first (comma-separated)",
                placeholder="e.g. 820, 1310.5, 0, 455, …",
                lines=2,
                elem_id="predict-values",
            )
            with gr.Row():
                fill = gr.Button(FILL_LABEL, elem_id="predict-fill")
                predict = gr.Button("Predict", variant="primary", elem_id="predict-run")
                tomorrow = gr.Button("Forecast tomorrow", elem_id="predict-tomorrow")
            # below the buttons: a line above them that grew on blur could move Predict under the pointer
            check = gr.HTML(elem_id="predict-entry-check")
            message = gr.HTML(elem_id="predict-message")
            result = gr.Markdown(elem_id="predict-result")
        with gr.Column(scale=2):
            table = gr.Dataframe(
                value=table_for([]),
                label="…or edit them as a table",
                datatype=["str", "str"],
                interactive=True,
                max_height=360,
                elem_id="predict-table",
            )
    chart = gr.Plot(label=CHART_TITLE, elem_id="predict-chart")
    download = gr.DownloadButton("Download forecast (CSV)", value=None, size="sm", elem_id="predict-download")

    # Everything that rewrites the box and its table runs in one ordered queue: a click on "Use the
    # last N days" blurs the box, and the blur's mirror of the old text must not land after the fill.
    category.change(
        handlers.choose,
        inputs=[category],
        outputs=[window_info, fill, text, table, check, filled, synced, result, chart, message, download],
        api_name="describe",
        concurrency_id=BOX_QUEUE,
        concurrency_limit=1,
    )
    fill.click(
        handlers.fill_last_days,
        inputs=[category],
        outputs=[text, table, check, filled, synced, message],
        api_name="fill_last_days",
        concurrency_id=BOX_QUEUE,
        concurrency_limit=1,
    )
    # the box and the table mirror each other, each with the box's check
    mirrors = (
        (text.blur, handlers.text_to_table, [text, filled], [table, check, synced]),
        (text.submit, handlers.text_to_table, [text, filled], [table, check, synced]),
        (table.input, handlers.table_to_text, [table, synced], [text, check, synced]),
    )
    for event, mirror, sources, targets in mirrors:
        event(
            mirror,
            inputs=sources,
            outputs=targets,
            api_visibility="private",
            show_progress="hidden",
            concurrency_id=BOX_QUEUE,
            concurrency_limit=1,
        )
    predict.click(
        handlers.predict,
        inputs=[category, text, filled, horizon],
        outputs=[result, chart, message, download],
        api_name="predict",
    )
    tomorrow.click(
        handlers.forecast_tomorrow,
        inputs=[category, horizon],
        outputs=[result, chart, message, download],
        api_name="forecast",
    )
    return PredictTab(category, window_info, message)
