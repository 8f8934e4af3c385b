"""Served models: every category's served version and whether it holds a TorchServe worker now
(*loaded*) or is *archived* (registered without a worker; it loads on its first request, the least
recently used one unloading), under the serving budget `torchserve.max_loaded_models` shown above.

Read from `GET /api/models`; a gateway that does not say (older, or without a budget) shows "—".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import gradio as gr
import pandas as pd

from ui.api_models import CalendarTerms, CategoryModel, ModelList, ModelVersion
from ui.formatting import message_html
from ui.gateway_client import GatewayClient, GatewayError

COLUMNS = ["Category", "Served version", "State", "Model", "Calendar", "Versions", "Registry (MLflow)"]
LOADED = "loaded"
ARCHIVED = "archived (loads on first request)"
UNKNOWN = "—"
CLASSICAL_NAMES = {
    "weekly_profile_es": "weekly profile",
    "long_run_mean": "long-run mean",
    "tsb": "TSB (intermittent)",
    "theta": "Theta",
}


@dataclass
class ModelsOverviewHandlers:
    client: GatewayClient
    mlflow_url: str = ""

    def show(self) -> tuple[str, pd.DataFrame]:
        """(the budget line, the table) as the gateway lists them now."""
        try:
            listed = self.client.models()
        except GatewayError as exc:
            return message_html("error", f"Could not list the served models: {exc}"), models_frame(None)
        return message_html("info", budget_line(listed)), models_frame(listed, self.mlflow_url)


def budget_line(listed: ModelList) -> str:
    """The memory budget and how many categories are loaded and archived under it."""
    counts = (
        f"{listed.loaded} loaded, {listed.archived} archived"
        if listed.loaded is not None and listed.archived is not None
        else f"{len(listed.models)} served"
    )
    if listed.max_loaded_models is None:
        return f"Memory budget: none — every served category keeps its worker ({counts})."
    return (
        f"Memory budget: at most {listed.max_loaded_models} versions loaded at once ({counts}); "
        "an archived category loads on its first request."
    )


def models_frame(listed: ModelList | None, mlflow_url: str = "") -> pd.DataFrame:
    """One row per served category: its served version, loaded or archived, its versions, and its
    registry entry (a link to the model version in MLflow, whose page names the training run)."""
    rows = [
        [
            model.category,
            model.default_version or UNKNOWN,
            UNKNOWN if model.loaded is None else LOADED if model.loaded else ARCHIVED,
            model_cell(model),
            calendar_cell(model.calendar, model.weekday_input),
            len(model.versions),
            registry_cell(next((v for v in model.versions if v.is_default), None), mlflow_url),
        ]
        for model in (listed.models if listed is not None else [])
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def model_cell(model: CategoryModel) -> str:
    """What the served version blends: `weekly profile 50 % + CNN-LSTM 50 %`, the classical part
    alone with why (a short history), or "—" when the gateway or the version does not say."""
    classical = model.classical
    name = CLASSICAL_NAMES.get(classical.method, classical.method) if classical is not None else None
    if model.fallback is not None:
        return f"{name or 'classical part'} alone (short history)"
    if classical is None or name is None or classical.weight is None:
        return UNKNOWN if name is None else name
    if classical.weight >= 1.0:
        return f"{name} alone"
    share = round(100 * classical.weight)
    return f"{name} {share} % + CNN-LSTM {100 - share} %"


def calendar_cell(calendar: CalendarTerms | None, weekday_input: bool = False) -> str:
    """What the served version reads from the last value's date: `weekday, holidays (US), yearly,
    month end`, or "—" for nothing (or a gateway that does not say)."""
    terms = ["weekday"] if weekday_input else []
    if calendar is None:
        return ", ".join(terms) or UNKNOWN
    if calendar.holidays:
        terms.append(f"holidays ({calendar.country})" if calendar.country else "holidays")
    if calendar.yearly:
        terms.append("yearly")
    if calendar.month_end:
        terms.append("month end")
    return ", ".join(terms) or UNKNOWN


def registry_cell(version: ModelVersion | None, mlflow_url: str) -> str:
    """`[champion · v3](…/#/models/salescast.beauty/versions/3) · run 1a2b3c4d` (Markdown), or "—"
    for a version the registry has not recorded yet."""
    if version is None or version.registered_model is None or version.registry_version is None:
        return UNKNOWN
    label = " · ".join([*version.aliases, f"v{version.registry_version}"])
    run = f" · run {version.run_id[:8]}" if version.run_id else ""
    if not mlflow_url:
        return label + run
    model = quote(version.registered_model, safe="")
    url = f"{mlflow_url.rstrip('/')}/#/models/{model}/versions/{version.registry_version}"
    return f"[{label}]({url}){run}"


def build_models_overview(handlers: ModelsOverviewHandlers) -> tuple[gr.HTML, gr.Dataframe]:
    """Lay out the section inside the current tab; returns (budget line, table) for the page load."""
    with gr.Accordion("Served models", open=True, elem_id="models-overview"):
        with gr.Row():
            budget = gr.HTML(elem_id="models-budget")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="models-refresh")
        table = gr.Dataframe(
            value=models_frame(None),
            label="Loaded: holds a worker now · archived: loads on its first request",
            interactive=False,
            datatype=["str", "str", "str", "str", "str", "number", "markdown"],
            elem_id="models-table",
        )
    refresh.click(handlers.show, outputs=[budget, table], api_name="models_overview")
    return budget, table
