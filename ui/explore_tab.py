"""Explore tab: daily sales of the chosen categories with a rolling mean, over a date range, plus stats.

The series come from `GET /api/history/{category}` (the same loader training uses, on the active
dataset). To draw the rolling mean from the first shown day, each request starts `window - 1` days
before the chosen start; those warm-up days feed the mean only, not the chart or the table. A date
that is not a date, or a range with no data, is an error that states the range the data covers.
The shown days can be downloaded as CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import gradio as gr
import pandas as pd

from core.dates import DayError, parse_day
from ui.api_models import History
from ui.charts import history_figure, message_figure
from ui.downloads import write_csv
from ui.formatting import MessageKind, message_html
from ui.gateway_client import GatewayClient, GatewayError
from ui.input_parsing import InputError
from ui.series_stats import SUMMARY_COLUMNS, summary_frame
from ui.views import ChartView, outputs_for
from ui.widgets import categories_picker, date_box, tab_intro

INTRO = (
    "Daily sales per category as the models see them (days without sales count as zero). "
    "Leave a date empty to start at the first day or end at the last one."
)


@dataclass
class ExploreTab:
    """The tab's components that other parts of the app update (category choices on load)."""

    categories: gr.Dropdown
    start: gr.Textbox
    end: gr.Textbox
    window: gr.Number
    chart: gr.Plot
    summary: gr.Dataframe
    message: gr.HTML


MAX_ROLLING_WINDOW = 90


def history_series(history: History) -> pd.Series:
    """The gateway's `{dates, sales}` as a float Series on a daily DatetimeIndex."""
    return pd.Series(history.sales, index=pd.DatetimeIndex(history.dates), name=history.category, dtype=float)


def parse_window(value: float | str | None, default: int) -> int:
    """The rolling-window box → whole days in 1..MAX_ROLLING_WINDOW (empty → default)."""
    if value is None or value == "":
        return default
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise InputError(f"rolling window {value!r} is not a number of days") from None
    if not days.is_integer() or not 1 <= days <= MAX_ROLLING_WINDOW:
        raise InputError(
            f"rolling window must be a whole number of days from 1 to {MAX_ROLLING_WINDOW}, got {value}"
        )
    return int(days)


@dataclass
class ExploreHandlers:
    """Event handlers of the Explore tab (plain methods, so tests call them directly too)."""

    client: GatewayClient
    default_window: int

    def show(
        self,
        categories: Sequence[str] | None,
        start: str | float | None,
        end: str | float | None,
        window: float | str | None,
    ) -> ChartView:
        """Chart, summary table, message and CSV of the shown days for the chosen categories and range."""
        empty = pd.DataFrame(columns=SUMMARY_COLUMNS)
        try:
            days = parse_window(window, self.default_window)
            first, last = parse_day(start, "From"), parse_day(end, "To")
            if first and last and first > last:
                raise InputError(f"the start date {first} is after the end date {last}")
        except (InputError, DayError) as exc:
            text = f"{exc}{self._available(categories)}"
            return ChartView(
                message_figure("Daily sales", "Check the inputs above"),
                empty,
                message_html("error", text),
                None,
            )
        if not categories:
            text = "Pick one or more categories to see their daily sales."
            return ChartView(message_figure("Daily sales", text), empty, message_html("info", text), None)

        fetch_from = (first - timedelta(days=days - 1)).isoformat() if first else None
        fetched: dict[str, pd.Series] = {}
        problems: list[str] = []
        for category in categories:
            try:
                history = self.client.history(
                    category, start=fetch_from, end=last.isoformat() if last else None
                )
            except GatewayError as exc:
                problems.append(f"{category}: {exc}")
                continue
            fetched[category] = history_series(history)

        shown_from = pd.Timestamp(first) if first else None
        shown = {
            category: series[series.index >= shown_from] if shown_from is not None else series
            for category, series in fetched.items()
        }
        if not any(len(series) for series in shown.values()):
            text = "; ".join(problems) or f"No sales data from {first or 'the start'} to {last or 'the end'}"
            if not problems:
                text += self._available(categories)
            kind: MessageKind = "error" if problems else "warning"
            chart_text = (
                "Could not load the history" if problems else "No sales data in the chosen date range"
            )
            chart = message_figure("Daily sales", chart_text)
            return ChartView(chart, summary_frame(shown), message_html(kind, text), None)
        figure = history_figure(fetched, days, shown_from=shown_from)
        download = write_csv(_history_frame(shown), "history-" + "-".join(shown))
        if problems:
            return ChartView(
                figure, summary_frame(shown), message_html("error", "; ".join(problems)), download
            )
        return ChartView(figure, summary_frame(shown), message_html("ok", _range_text(shown)), download)

    def _available(self, categories: Sequence[str] | None) -> str:
        """ "; the data covers A to B" for the chosen categories (empty when the gateway cannot say)."""
        spans = []
        for category in categories or []:
            try:
                history = self.client.history(category)
            except GatewayError:
                continue
            if history.dates:
                spans.append((history.dates[0], history.dates[-1]))
        if not spans:
            return ""
        start, end = min(span[0] for span in spans), max(span[1] for span in spans)
        return f"; the data covers {start} to {end} (dates as YYYY-MM-DD)"


def _history_frame(shown: dict[str, pd.Series]) -> pd.DataFrame:
    """The shown days as a long table: date, category, sales."""
    rows = [
        (day.date().isoformat(), category, float(value))
        for category, series in shown.items()
        for day, value in zip(pd.DatetimeIndex(series.index), series.to_numpy(), strict=True)
    ]
    return pd.DataFrame(rows, columns=["date", "category", "sales"])


def _range_text(shown: dict[str, pd.Series]) -> str:
    starts = [series.index.min() for series in shown.values() if len(series)]
    ends = [series.index.max() for series in shown.values() if len(series)]
    return f"Showing {', '.join(shown)} from {min(starts).date()} to {max(ends).date()}."


def build_explore_tab(handlers: ExploreHandlers) -> ExploreTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    tab_intro(INTRO)
    with gr.Row():
        categories = categories_picker("explore-categories")
        start = date_box("From", "first day", "explore-start")
        end = date_box("To", "last day", "explore-end")
        window = gr.Number(
            value=handlers.default_window,
            label="Rolling mean (days)",
            precision=0,
            scale=1,
            elem_id="explore-window",
        )
    show = gr.Button("Show", variant="primary", elem_id="explore-show")
    message = gr.HTML(elem_id="explore-message")
    chart = gr.Plot(label="Daily sales", elem_id="explore-chart")
    summary = gr.Dataframe(
        value=pd.DataFrame(columns=SUMMARY_COLUMNS),
        label="Summary over the shown range",
        interactive=False,
        elem_id="explore-summary",
    )
    download = gr.DownloadButton("Download history (CSV)", value=None, size="sm", elem_id="explore-download")
    inputs = [categories, start, end, window]
    outputs = outputs_for(
        ChartView, {"chart": chart, "table": summary, "message": message, "download": download}
    )
    # One queue for the tab's redraws, run in the order they were asked for: a category change
    # followed at once by Show sends two, and run side by side the slower, older one could land
    # last and leave a chart of the old range under the new message.
    for event, api_name in (
        (show.click, "explore"),
        (categories.change, None),
        (window.submit, None),
        (start.submit, None),
        (end.submit, None),
    ):
        event(
            handlers.show,
            inputs=inputs,
            outputs=outputs,
            api_name=api_name,
            api_visibility="public" if api_name else "private",
            concurrency_id="explore-redraw",
            concurrency_limit=1,
        )
    return ExploreTab(categories, start, end, window, chart, summary, message)
