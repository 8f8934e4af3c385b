"""The Gradio app: a connection banner and the Explore, Predict, Backtest, Train and Data tabs.

`build_app(settings)` only lays out the page; nothing calls the gateway until a browser loads
it, so the UI starts (and says so on the page) while the gateway is down. Each page load, and
the "Check connection" button, re-reads the gateway's health and the category lists: Explore and
Train list the active dataset's categories, Predict and Backtest the served ones. Activating a
dataset, and opening the Predict or Backtest tab (a job may have deployed a new category), refresh
them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# Before Gradio is imported: no usage analytics and no version check (the service runs offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr

from core.net import http_url
from core.settings import Settings
from ui.backtest_tab import BacktestHandlers, build_backtest_tab
from ui.data_tab import DataHandlers, build_data_tab
from ui.explore_tab import ExploreHandlers, ExploreTab, build_explore_tab
from ui.forecast_all import ForecastAllHandlers, build_forecast_all
from ui.formatting import health_html, message_html
from ui.gateway_client import GatewayClient, GatewayError
from ui.models_overview import ModelsOverviewHandlers, build_models_overview
from ui.predict_handlers import PredictHandlers
from ui.predict_tab import PredictTab, build_predict_tab
from ui.temp_files import CLEAN_EVERY_S, MAX_AGE_S
from ui.train_handlers import TrainHandlers
from ui.train_tab import TrainTab, build_train_tab
from ui.updates import skip

TITLE = "salescast"
CSS = """
.sc-msg { padding: 0.6em 0.9em; border-radius: 6px; border-left-width: 5px !important; margin: 0.2em 0; }
.sc-info { background: #eef4fb; border: 1px solid #b9d3ef; }
.sc-ok { background: #edf7ed; border: 1px solid #b5dcb5; }
.sc-warning { background: #fff6e0; border: 1px solid #f0d48a; }
.sc-error { background: #fdecec; border: 1px solid #f1b0b0; color: #8a1010; }
.sc-job { padding: 0.5em 0; }
.sc-progress { width: 100%; height: 0.9em; margin: 0.4em 0; }
#predict-result h3 { margin: 0.3em 0; }
"""


@dataclass
class AppHandlers:
    """Page-level handlers: connection status and the category lists every tab uses."""

    client: GatewayClient

    def connect(self) -> tuple[str, Any, Any, Any, Any]:
        """Banner, and category choices for Explore (first one shown), Predict, Train and Backtest."""
        try:
            health = self.client.health()
        except GatewayError as exc:
            banner = health_html(None, str(exc), self.client.base_url)
            return banner, skip(), skip(), skip(), skip()
        banner = health_html(health, None, self.client.base_url)
        try:
            served = self.served_categories()
        except GatewayError as exc:
            banner += message_html("error", f"Could not list the categories: {exc}")
            return banner, skip(), skip(), skip(), skip()
        data = self.data_categories() or served
        return (
            banner,
            gr.Dropdown(choices=data, value=data[:1]),
            gr.Dropdown(choices=served, value=served[0] if served else None),
            gr.Dropdown(choices=data),
            gr.Dropdown(choices=served, value=None),
        )

    def served_categories(self) -> list[str]:
        """Categories TorchServe serves (what Predict and Backtest can use)."""
        return sorted(model.category for model in self.client.models().models)

    def data_categories(self) -> list[str]:
        """Categories of the active dataset (what Explore shows and Train can train); empty if unknown."""
        try:
            active = self.client.datasets().active_dataset()
        except GatewayError:
            return []
        return [item.category for item in active.categories] if active else []

    def dataset_changed(self) -> tuple[Any, Any]:
        """New choices for Explore (first one shown) and Train after a dataset was activated."""
        data = self.data_categories()
        return gr.Dropdown(choices=data, value=data[:1]), gr.Dropdown(choices=data, value=[])

    def served_changed(self, current: str | None) -> Any:
        """Served categories again (a job may have deployed a new one), keeping the current choice."""
        try:
            served = self.served_categories()
        except GatewayError:
            return skip()
        if current in served:
            return gr.Dropdown(choices=served, value=current)
        return gr.Dropdown(choices=served)


def build_app(settings: Settings, client: GatewayClient | None = None) -> gr.Blocks:
    """The whole UI for `settings.ui` (gateway URL, timeouts, defaults); launch it with `ui.server`."""
    client = client or GatewayClient.from_settings(settings)
    page = AppHandlers(client)
    mlflow_url = settings.ui.mlflow_url or http_url(settings.mlflow.ui_host, settings.mlflow.ui_port)
    app = gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(int(CLEAN_EVERY_S), int(MAX_AGE_S)))
    with app:
        with gr.Row():
            gr.Markdown(
                f"# {TITLE}\nSales forecasts per product category, from your own data.", elem_id="title"
            )
            check = gr.Button("Check connection", size="sm", scale=0, elem_id="check-connection")
        banner = gr.HTML(message_html("info", "Connecting to the gateway…"), elem_id="banner")
        with gr.Tabs():
            with gr.Tab("Explore", id="explore"):
                explore: ExploreTab = build_explore_tab(ExploreHandlers(client, settings.ui.rolling_window))
            with gr.Tab("Predict", id="predict") as predict_page:
                predict: PredictTab = build_predict_tab(
                    PredictHandlers(client, settings.ui.predict_history_days, settings.ui.outlier_factor)
                )
                build_forecast_all(ForecastAllHandlers(client, settings.ui.forecast_all_timeout_s))
            with gr.Tab("Backtest", id="backtest") as backtest_page:
                backtest = build_backtest_tab(BacktestHandlers(client))
            with gr.Tab("Train", id="train"):
                train_handlers = TrainHandlers(client, settings.ui.poll_interval_s, mlflow_url)
                train: TrainTab = build_train_tab(train_handlers)
                models_handlers = ModelsOverviewHandlers(client, mlflow_url)
                models_budget, models_table = build_models_overview(models_handlers)
            with gr.Tab("Data", id="data"):
                data_handlers = DataHandlers(client)
                data = build_data_tab(data_handlers)
        outputs = [banner, explore.categories, predict.category, train.categories, backtest.category]
        app.load(page.connect, outputs=outputs, api_name="connect")
        app.load(train_handlers.recent_jobs, outputs=[train.jobs, train.message], api_visibility="private")
        app.load(models_handlers.show, outputs=[models_budget, models_table], api_visibility="private")
        app.load(data_handlers.datasets, outputs=[data.datasets, data.choice], api_visibility="private")
        check.click(page.connect, outputs=outputs, api_visibility="private")
        data.activate.click(
            page.dataset_changed, outputs=[explore.categories, train.categories], api_visibility="private"
        )
        predict_page.select(
            page.served_changed,
            inputs=[predict.category],
            outputs=[predict.category],
            api_visibility="private",
        )
        backtest_page.select(
            page.served_changed,
            inputs=[backtest.category],
            outputs=[backtest.category],
            api_visibility="private",
        )
    return app
