"""Predict tab: forecast the next day from N values typed in (or taken from the history).

N is the served model's window size from `GET /api/models`. The comma-separated box and the
table show the same values (each edit of one rewrites the other); "Predict" sends the box to
`POST /api/predict`, so the gateway's own checks (count, range) produce the messages shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import gradio as gr
import pandas as pd
from matplotlib.figure import Figure

from ui.charts import prediction_figure
from ui.formatting import forecast_markdown, message_html, prediction_markdown
from ui.gateway_client import GatewayClient, GatewayError
from ui.input_parsing import InputError, format_sales_text, parse_sales_cells, parse_sales_text
from ui.updates import Skip, skip

TABLE_COLUMNS = ["Day", "Sales"]
CHART_TITLE = "Inputs and forecast"
FILL_LABEL = "Use the last N days"


@dataclass(frozen=True)
class FilledInputs:
    """Values put in by "Use the last N days": lets the chart show their real dates."""

    category: str
    values: tuple[float, ...]
    last_date: str


def table_for(
    values: Sequence[float], size: int | None = None, dates: Sequence[str] | None = None
) -> pd.DataFrame:
    """The input table: one row per day, oldest first, padded with empty rows up to `size`."""
    rows: list[list[Any]] = []
    count = max(len(values), size or 0)
    for index in range(count):
        label = dates[index] if dates and index < len(dates) else f"day {index + 1}"
        rows.append([label, values[index] if index < len(values) else None])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


@dataclass
class PredictHandlers:
    """Event handlers of the Predict tab."""

    client: GatewayClient

    def window_size(self, category: str) -> tuple[int, str]:
        """(N, served version) of `category`; GatewayError when the gateway cannot say."""
        for model in self.client.models().models:
            if model.category == category:
                if model.window_size is None:
                    raise GatewayError(f"{category} has no served model yet, so its window size is unknown")
                return model.window_size, model.default_version or "unknown"
        raise GatewayError(f"the gateway serves no model for category {category!r}")

    def describe(self, category: str | None) -> tuple[str, gr.Button, str]:
        """Window-size line and fill-button label for the chosen category; a message when N is unknown."""
        if not category:
            return "Choose a category.", gr.Button(value=FILL_LABEL), ""
        try:
            size, version = self.window_size(category)
        except GatewayError as exc:
            return "", gr.Button(value=FILL_LABEL), message_html("error", str(exc))
        info = f"The served model (version `{version}`) reads the last **{size}** days, oldest first."
        return info, gr.Button(value=f"Use the last {size} days"), ""

    def fill_last_days(
        self, category: str | None
    ) -> tuple[str | Skip, pd.DataFrame | Skip, FilledInputs | None, str]:
        """The box, the table and the remembered dates from the last N days of the history."""
        if not category:
            return "", table_for([]), None, message_html("error", "Choose a category first.")
        try:
            size, _ = self.window_size(category)
            history = self.client.history(category)
        except GatewayError as exc:
            return skip(), skip(), None, message_html("error", str(exc))
        if len(history.sales) < size:
            text = f"{category} has only {len(history.sales)} days of history; the model needs {size}."
            return skip(), skip(), None, message_html("error", text)
        values, dates = history.sales[-size:], history.dates[-size:]
        filled = FilledInputs(category, tuple(values), dates[-1])
        text = f"Filled with {category}'s sales from {dates[0]} to {dates[-1]}."
        return format_sales_text(values), table_for(values, dates=dates), filled, message_html("info", text)

    def text_to_table(self, text: str, filled: FilledInputs | None) -> pd.DataFrame | Skip:
        """Mirror the box in the table (kept unchanged while the box does not parse)."""
        try:
            values = parse_sales_text(text)
        except InputError:
            return skip()
        dates = _filled_dates(filled, values)
        return table_for(values, dates=dates)

    def table_to_text(self, table: pd.DataFrame | None) -> str | Skip:
        """Mirror the table in the box (kept unchanged while a cell is not a number)."""
        if table is None or "Sales" not in table:
            return skip()
        try:
            return format_sales_text(parse_sales_cells(table["Sales"].tolist()))
        except InputError:
            return skip()

    def predict(
        self, category: str | None, text: str, filled: FilledInputs | None
    ) -> tuple[str, Figure | None, str]:
        """Headline, chart and message for a prediction from the values in the box (no chart on errors)."""
        if not category:
            return "", None, message_html("error", "Choose a category.")
        try:
            values = parse_sales_text(text)
            answer = self.client.predict(category, values)
        except (InputError, GatewayError) as exc:
            return "", None, message_html("error", _cannot("predict", exc))
        last_date = None
        if filled is not None and filled.category == category and filled.values == tuple(values):
            last_date = date.fromisoformat(filled.last_date)
        figure = prediction_figure(category, values, answer.prediction, answer.model_version, last_date)
        headline = prediction_markdown(category, answer.prediction, answer.model_version, answer.window_size)
        return headline, figure, ""

    def forecast_tomorrow(self, category: str | None) -> tuple[str, str]:
        """Headline for the gateway's forecast of the day after the stored history."""
        if not category:
            return "", message_html("error", "Choose a category.")
        try:
            answer = self.client.forecast(category)
        except GatewayError as exc:
            return "", message_html("error", _cannot("forecast", exc))
        text = forecast_markdown(
            category, answer.date, answer.prediction, answer.model_version, answer.history_end
        )
        return text, ""


def _cannot(action: str, exc: Exception) -> str:
    return f"Could not {action}: {exc}"


def _filled_dates(filled: FilledInputs | None, values: Sequence[float]) -> list[str] | None:
    if filled is None or filled.values != tuple(values):
        return None
    end = pd.Timestamp(filled.last_date)
    return [day.date().isoformat() for day in pd.date_range(end=end, periods=len(values), freq="D")]


@dataclass
class PredictTab:
    """Components the app updates on load."""

    category: gr.Dropdown
    window_info: gr.Markdown
    message: gr.HTML


def build_predict_tab(handlers: PredictHandlers) -> PredictTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    filled = gr.State(None)
    with gr.Row():
        category = gr.Dropdown(
            choices=[], allow_custom_value=True, label="Category", scale=1, elem_id="predict-category"
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
            message = gr.HTML(elem_id="predict-message")
            result = gr.Markdown(elem_id="predict-result")
        with gr.Column(scale=2):
            table = gr.Dataframe(
                value=table_for([]),
                label="…or edit them as a table",
                datatype=["str", "number"],
                interactive=True,
                max_height=360,
                elem_id="predict-table",
            )
    chart = gr.Plot(label=CHART_TITLE, format="png", elem_id="predict-chart")

    category.change(
        handlers.describe, inputs=[category], outputs=[window_info, fill, message], api_name="describe"
    )
    fill.click(
        handlers.fill_last_days,
        inputs=[category],
        outputs=[text, table, filled, message],
        api_name="fill_last_days",
    )
    text.blur(handlers.text_to_table, inputs=[text, filled], outputs=[table], api_visibility="private")
    text.submit(handlers.text_to_table, inputs=[text, filled], outputs=[table], api_visibility="private")
    table.input(handlers.table_to_text, inputs=[table], outputs=[text], api_visibility="private")
    predict.click(
        handlers.predict,
        inputs=[category, text, filled],
        outputs=[result, chart, message],
        api_name="predict",
    )
    tomorrow.click(
        handlers.forecast_tomorrow, inputs=[category], outputs=[result, message], api_name="forecast"
    )
    return PredictTab(category, window_info, message)
