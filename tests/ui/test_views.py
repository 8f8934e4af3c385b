"""Handlers' named views become Gradio's outputs in the view's field order."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import pytest

from core.settings import Settings
from ui.app import build_app
from ui.predict_handlers import ChooseView, PredictView
from ui.train_handlers import JobView
from ui.views import ChartView, outputs_for


class _Pair(NamedTuple):
    second: str
    first: str


def test_outputs_follow_the_fields_not_the_mapping() -> None:
    with gr.Blocks():
        first, second, other = gr.Textbox(), gr.Textbox(), gr.Textbox()
        assert outputs_for(_Pair, {"first": first, "other": other, "second": second}) == [second, first]
        with pytest.raises(ValueError, match="_Pair has fields with no component: first"):
            outputs_for(_Pair, {"second": second})


def test_each_predict_event_writes_its_view_in_order(test_settings: Settings) -> None:
    """The value a handler names `chart` lands in the chart, and so on for every field with an id."""
    app = build_app(test_settings)
    elem_ids = {
        "window_info": "predict-window",
        "horizon": "predict-horizon",
        "fill": "predict-fill",
        "text": "predict-values",
        "table": "predict-table",
        "check": "predict-entry-check",
        "result": "predict-result",
        "chart": "predict-chart",
        "message": "predict-message",
        "download": "predict-download",
    }
    for api_name, view in (("describe", ChooseView), ("predict", PredictView), ("forecast", PredictView)):
        fn = next(fn for fn in app.fns.values() if fn.api_name == api_name)
        written = [getattr(block, "elem_id", None) for block in fn.outputs]
        assert written == [elem_ids.get(field) for field in view._fields], api_name


def test_each_train_event_writes_its_view_in_order(test_settings: Settings) -> None:
    """Starting a job writes its id, then the same view as showing a job; field by field."""
    app = build_app(test_settings)
    elem_ids = {
        "status": "train-status",
        "outcomes": "train-outcomes",
        "metrics": "train-metrics",
        "jobs": "train-jobs",
        "loss": "train-loss",
        "plots": "train-plots",
        "links": "train-links",
        "download": "train-download",
    }
    view = [elem_ids.get(field) for field in JobView._fields]
    for api_name, expected in (("job_status", view), ("start_training", ["train-job-id", *view])):
        fn = next(fn for fn in app.fns.values() if fn.api_name == api_name)
        assert [getattr(block, "elem_id", None) for block in fn.outputs] == expected, api_name


@pytest.mark.parametrize(("api_name", "table"), [("explore", "summary"), ("backtest", "metrics")])
def test_chart_tabs_write_their_view_in_order(test_settings: Settings, api_name: str, table: str) -> None:
    """Explore and Backtest answer a `ChartView`: the chart, its table, the message and the CSV."""
    app = build_app(test_settings)
    fn = next(fn for fn in app.fns.values() if fn.api_name == api_name)
    elem_ids = {"chart": "chart", "table": table, "message": "message", "download": "download"}
    written = [getattr(block, "elem_id", None) for block in fn.outputs]
    assert written == [f"{api_name}-{elem_ids[field]}" for field in ChartView._fields]
