"""The Gradio app: a connection banner and the Explore, Predict and Train tabs.

`build_app(settings)` only lays out the page; nothing calls the gateway until a browser loads
it, so the UI starts (and says so on the page) while the gateway is down. Each page load, and
the "Check connection" button, re-reads the gateway's health and category list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# Before Gradio is imported: no usage analytics and no version check (the service runs offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import gradio as gr

from core.settings import Settings
from ui.explore_tab import ExploreHandlers, ExploreTab, build_explore_tab
from ui.formatting import health_html, message_html
from ui.gateway_client import GatewayClient, GatewayError
from ui.predict_tab import PredictHandlers, PredictTab, build_predict_tab
from ui.train_tab import TrainHandlers, TrainTab, build_train_tab
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

    def connect(self) -> tuple[str, Any, Any, Any]:
        """Banner, and category choices for Explore (first one shown), Predict and Train."""
        try:
            health = self.client.health()
        except GatewayError as exc:
            banner = health_html(None, str(exc), self.client.base_url)
            return banner, skip(), skip(), skip()
        banner = health_html(health, None, self.client.base_url)
        try:
            categories = sorted(model.category for model in self.client.models().models)
        except GatewayError as exc:
            banner += message_html("error", f"Could not list the categories: {exc}")
            return banner, skip(), skip(), skip()
        first = categories[:1]
        return (
            banner,
            gr.Dropdown(choices=categories, value=first),
            gr.Dropdown(choices=categories, value=first[0] if first else None),
            gr.Dropdown(choices=categories),
        )


def build_app(settings: Settings, client: GatewayClient | None = None) -> gr.Blocks:
    """The whole UI for `settings.ui` (gateway URL, timeouts, defaults); launch it with `ui.server`."""
    client = client or GatewayClient.from_settings(settings)
    page = AppHandlers(client)
    app = gr.Blocks(title=TITLE, analytics_enabled=False)
    with app:
        with gr.Row():
            gr.Markdown(f"# {TITLE}\nNext-day sales forecasts per product category.", elem_id="title")
            check = gr.Button("Check connection", size="sm", scale=0, elem_id="check-connection")
        banner = gr.HTML(message_html("info", "Connecting to the gateway…"), elem_id="banner")
        with gr.Tabs():
            with gr.Tab("Explore", id="explore"):
                explore: ExploreTab = build_explore_tab(ExploreHandlers(client, settings.ui.rolling_window))
            with gr.Tab("Predict", id="predict"):
                predict: PredictTab = build_predict_tab(PredictHandlers(client))
            with gr.Tab("Train", id="train"):
                train_handlers = TrainHandlers(client, settings.ui.poll_interval_s)
                train: TrainTab = build_train_tab(train_handlers)
        outputs = [banner, explore.categories, predict.category, train.categories]
        app.load(page.connect, outputs=outputs, api_name="connect")
        app.load(train_handlers.recent_jobs, outputs=[train.jobs, train.message], api_visibility="private")
        check.click(page.connect, outputs=outputs, api_visibility="private")
    return app
