"""Predict tab: the layout and its events (what each event does is in `predict_handlers`).

Each handler answers with a named view; `outputs_for` lists the components in the view's order, so
no event lists its outputs by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from gradio.blocks import Block

from ui.predict_chart import CHART_TITLE
from ui.predict_handlers import FILL_LABEL, ChooseView, FillView, PredictHandlers, PredictView
from ui.predict_inputs import BoxMirror, TableMirror, table_for
from ui.views import outputs_for

BOX_QUEUE = "predict-box"  # the events that rewrite the box and its table, one at a time in order


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
        # its maximum is the chosen category's max_horizon (GET /api/models), set when it is chosen
        horizon = gr.Number(
            value=1,
            minimum=1,
            precision=0,
            label="Days ahead",
            scale=0,
            min_width=120,
            elem_id="predict-horizon",
        )
        # filled with the history's last day by "Use the last N days"; sent as `last_date`
        last_date = gr.Textbox(
            label="Date of the last value (YYYY-MM-DD)",
            placeholder="optional, e.g. 2024-12-30",
            info="For a model with calendar terms (holidays, season).",
            scale=0,
            min_width=220,
            elem_id="predict-last-date",
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
    parts: dict[str, Block] = {
        "window_info": window_info,
        "horizon": horizon,
        "fill": fill,
        "text": text,
        "table": table,
        "check": check,
        "filled": filled,
        "synced": synced,
        "result": result,
        "chart": chart,
        "message": message,
        "download": download,
        "last_date": last_date,
    }

    # Everything that rewrites the box and its table runs in one ordered queue: a click on "Use the
    # last N days" blurs the box, and the blur's mirror of the old text must not land after the fill.
    category.change(
        handlers.choose,
        inputs=[category, horizon],
        outputs=outputs_for(ChooseView, parts),
        api_name="describe",
        concurrency_id=BOX_QUEUE,
        concurrency_limit=1,
    )
    fill.click(
        handlers.fill_last_days,
        inputs=[category],
        outputs=outputs_for(FillView, parts),
        api_name="fill_last_days",
        concurrency_id=BOX_QUEUE,
        concurrency_limit=1,
    )
    # the box and the table mirror each other, each with the box's check
    to_table = outputs_for(TableMirror, parts)
    mirrors = (
        (text.blur, handlers.text_to_table, [text, filled], to_table),
        (text.submit, handlers.text_to_table, [text, filled], to_table),
        (table.input, handlers.table_to_text, [table, synced], outputs_for(BoxMirror, parts)),
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
        inputs=[category, text, filled, horizon, last_date],
        outputs=outputs_for(PredictView, parts),
        api_name="predict",
    )
    tomorrow.click(
        handlers.forecast_tomorrow,
        inputs=[category, horizon],
        outputs=outputs_for(PredictView, parts),
        api_name="forecast",
    )
    return PredictTab(category, window_info, message)
