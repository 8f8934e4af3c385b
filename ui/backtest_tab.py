"""Backtest tab: how the served version did on its held-out test days, against the baselines, and
how its forecasts held up live.

`GET /api/models/{category}/backtest` gives the test days, the actual sales and every forecaster's
one-step forecasts; the chart draws them together and the table gives the test metrics of the served
version (`GET /api/models`). Beside them, `GET /api/models/{category}/live`: the forecasts it issued,
scored against the days that came after (a row of the table and a line under the chart). A gateway
without those routes says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ui.api_models import LiveAccuracy
from ui.charts import backtest_figure, message_figure
from ui.downloads import write_csv
from ui.formatting import FORECASTER_NAMES, METRIC_NAMES, message_html
from ui.gateway_client import GatewayClient, GatewayError
from ui.views import ChartView, outputs_for
from ui.widgets import tab_intro

INTRO = (
    "The served model on the most recent days it was held out from training: actual sales, its "
    "one-day-ahead forecasts and the baselines it is compared with (lower errors are better)."
)


@dataclass
class BacktestTab:
    category: gr.Dropdown


CHART_TITLE = "Test days of the served version"
METRICS_COLUMNS = ["Forecaster", *METRIC_NAMES.values()]
MISSING_ROUTE = "Not Found"


@dataclass
class BacktestHandlers:
    """Event handlers of the Backtest tab."""

    client: GatewayClient

    def show(self, category: str | None) -> ChartView:
        """Chart, metrics table, message and CSV of the served version's test days."""
        empty = pd.DataFrame(columns=METRICS_COLUMNS)
        if not category:
            return ChartView(
                message_figure(CHART_TITLE, "Choose a category"),
                empty,
                message_html("info", "Choose a category."),
                None,
            )
        try:
            backtest = self.client.backtest(category)
        except GatewayError as exc:
            if exc.status_code == 404 and str(exc) == MISSING_ROUTE:
                text = "This gateway has no backtest route (GET /api/models/{category}/backtest) yet."
            else:
                text = f"Could not load the backtest: {exc}"
            return ChartView(
                message_figure(CHART_TITLE, "No backtest"), empty, message_html("error", text), None
            )
        title = f"{backtest.category}: served version {backtest.model_version} on its test days"
        figure = backtest_figure(title, backtest.dates, backtest.actual, backtest.forecasts)
        frame = pd.DataFrame({"date": backtest.dates, "actual": backtest.actual, **backtest.forecasts})
        text = (
            f"{len(backtest.dates)} test days from {backtest.dates[0]} to {backtest.dates[-1]}."
            if backtest.dates
            else ""
        )
        metrics = self._metrics(category)
        live = self._live(category)
        if live is not None and live.served is not None:
            score = live.served
            row = [
                "Served version, live",
                *(_number(getattr(score, metric, None)) for metric in METRIC_NAMES),
            ]
            metrics = pd.concat([metrics, pd.DataFrame([row], columns=METRICS_COLUMNS)], ignore_index=True)
        return ChartView(
            figure,
            metrics,
            message_html("ok", f"{text} {live_line(live)}".strip()),
            write_csv(frame, f"backtest-{category}"),
        )

    def _live(self, category: str) -> LiveAccuracy | None:
        try:
            return self.client.live_accuracy(category)
        except GatewayError:
            return None

    def _metrics(self, category: str) -> pd.DataFrame:
        try:
            models = self.client.models().models
        except GatewayError:
            return pd.DataFrame(columns=METRICS_COLUMNS)
        test = next((model.test_metrics for model in models if model.category == category), None) or {}
        rows = [
            [
                FORECASTER_NAMES.get(name, name).replace(" (new version)", " (served version)"),
                *(_number(scores.get(metric)) for metric in METRIC_NAMES),
            ]
            for name, scores in test.items()
            if isinstance(scores, dict)
        ]
        return pd.DataFrame(rows, columns=METRICS_COLUMNS)


def live_line(live: LiveAccuracy | None) -> str:
    """One sentence on the served version's live record (forecasts scored after they were issued)."""
    if live is None:
        return "Live accuracy: not available from this gateway."
    score = live.served
    if score is None:
        return (
            "Live accuracy: none of the served version's logged forecasts has been scored yet "
            "(its days are not in the data yet)."
        )
    ratio = (
        f", {score.ratio_to_seasonal_naive:.2f}× the seasonal naive's RMSE"
        if score.ratio_to_seasonal_naive is not None
        else ""
    )
    covered = ", ".join(
        f"{float(level):g} % interval held {share * 100:.0f} %" for level, share in score.coverage.items()
    )
    pending = "" if score.ready else f" (counts from {live.min_days} days)"
    return (
        f"Live accuracy of {score.version}: {score.days} days scored from {score.first_day} to "
        f"{score.last_day}{pending}: RMSE {score.rmse:,.2f}{ratio}; {covered}."
    )


def _number(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) and not isinstance(value, bool) else "—"


def build_backtest_tab(handlers: BacktestHandlers) -> BacktestTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    tab_intro(INTRO)
    with gr.Row():
        category = gr.Dropdown(
            choices=[], allow_custom_value=True, label="Category", scale=2, elem_id="backtest-category"
        )
        show = gr.Button("Show backtest", variant="primary", scale=1, elem_id="backtest-show")
    message = gr.HTML(elem_id="backtest-message")
    chart = gr.Plot(label=CHART_TITLE, elem_id="backtest-chart")
    metrics = gr.Dataframe(
        value=pd.DataFrame(columns=METRICS_COLUMNS),
        label="Test metrics",
        interactive=False,
        elem_id="backtest-metrics",
    )
    download = gr.DownloadButton(
        "Download backtest (CSV)", value=None, size="sm", elem_id="backtest-download"
    )
    outputs = outputs_for(
        ChartView, {"chart": chart, "table": metrics, "message": message, "download": download}
    )
    show.click(handlers.show, inputs=[category], outputs=outputs, api_name="backtest")
    category.change(handlers.show, inputs=[category], outputs=outputs, api_visibility="private")
    return BacktestTab(category)
