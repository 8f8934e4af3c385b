"""Forecast all categories: one button under the Predict tab that asks the gateway for every category's
forecast at once (`POST /api/forecast_batch`, as CSV) and offers the file for download.

The gateway computes them beside TorchServe (no category's model is loaded into it for this) and keeps
the answer until the data or a served version changes, so a second click is immediate. A category
that could not be forecast keeps its row in the file, with its error, and is named on the page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import gradio as gr
import pandas as pd

from ui.downloads import write_csv
from ui.formatting import MessageKind, message_html
from ui.gateway_client import GatewayClient, GatewayError

INTRO = (
    "Every category of the active dataset forecast from its last days by its served model, in one "
    "CSV: a row per category and day with the prediction, its intervals and the model version."
)
TEXT_COLUMNS = ["category", "date", "model_version", "error"]
SHOWN_FAILURES = 5  # failed categories named on the page; the file holds them all


@dataclass
class ForecastAllHandlers:
    """The button's handler: the gateway's CSV, made safe for spreadsheets and offered for download."""

    client: GatewayClient
    timeout_s: float

    def forecast_all(self, horizon: float | None) -> tuple[str, Any]:
        """(message, download button) for every category `horizon` days ahead."""
        days = int(horizon or 1)
        try:
            text = self.client.forecast_all_csv(days, timeout_s=self.timeout_s)
        except GatewayError as exc:
            return message_html("error", str(exc)), gr.DownloadButton(value=None, visible=False)
        frame = read_forecast_csv(text)
        failed = frame[frame["status"] != 200]
        categories = frame["category"].nunique()
        summary = f"Forecast {categories - len(failed)} of {categories} categories {days} day(s) ahead."
        kind: MessageKind = "ok"
        if len(failed):
            named = "; ".join(
                f"{row.category}: {row.error}" for row in failed.head(SHOWN_FAILURES).itertuples()
            )
            more = (
                f" (and {len(failed) - SHOWN_FAILURES} more in the file)"
                if len(failed) > SHOWN_FAILURES
                else ""
            )
            summary += f" Not forecast — {named}{more}."
            kind = "warning"
        path = write_csv(frame, f"forecast-all-{days}d")
        return message_html(kind, summary), gr.DownloadButton(value=path, visible=True)


def read_forecast_csv(text: str) -> pd.DataFrame:
    """The gateway's CSV with its numbers as `Decimal`s: written back, each is the same text (pandas'
    floats would round the last digit) and never taken for a formula (`-3.1`); text stays text."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for column in frame.columns.difference(TEXT_COLUMNS):
        frame[column] = pd.Series([_number(cell) for cell in frame[column]], index=frame.index, dtype=object)
    return frame


def _number(cell: str) -> Decimal | None:
    if cell == "":
        return None
    return Decimal(cell)


def build_forecast_all(handlers: ForecastAllHandlers) -> None:
    """Lay out the section inside the current tab and wire its button."""
    with gr.Accordion("Forecast all categories", open=False, elem_id="forecast-all"):
        gr.Markdown(INTRO)
        with gr.Row():
            horizon = gr.Number(
                value=7,
                minimum=1,
                precision=0,
                label="Days ahead",
                scale=0,
                min_width=120,
                elem_id="forecast-all-horizon",
            )
            run = gr.Button("Forecast all categories", variant="primary", scale=0, elem_id="forecast-all-run")
            download = gr.DownloadButton(
                "Download (CSV)",
                value=None,
                visible=False,
                size="sm",
                scale=0,
                elem_id="forecast-all-download",
            )
        message = gr.HTML(elem_id="forecast-all-message")
    run.click(handlers.forecast_all, inputs=[horizon], outputs=[message, download], api_name="forecast_all")
