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


@pytest.fixture(scope="module")
def app(test_settings: Settings) -> gr.Blocks:
    """The page, built and never launched: its events are what the tests read."""
    return build_app(test_settings)


def _written(app: gr.Blocks, api_name: str) -> list[str | None]:
    """The element ids of the components the event named `api_name` writes, in order."""
    fn = next(fn for fn in app.fns.values() if fn.api_name == api_name)
    return [getattr(block, "elem_id", None) for block in fn.outputs]


def test_each_predict_event_writes_its_view_in_order(app: gr.Blocks) -> None:
    """The value a handler names `chart` lands in the chart, and so on for every field with an id."""
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
        "last_date": "predict-last-date",
    }
    for api_name, view in (("describe", ChooseView), ("predict", PredictView), ("forecast", PredictView)):
        assert _written(app, api_name) == [elem_ids.get(field) for field in view._fields], api_name


def test_each_train_event_writes_its_view_in_order(app: gr.Blocks) -> None:
    """Each `JobView` field lands in the component `train-<field>` (the timer has no element);
    starting a job writes its id first."""
    view = [None if field == "timer" else f"train-{field}" for field in JobView._fields]
    assert _written(app, "job_status") == view
    assert _written(app, "start_training") == ["train-job-id", *view]


@pytest.mark.parametrize(("api_name", "table"), [("explore", "summary"), ("backtest", "metrics")])
def test_chart_tabs_write_their_view_in_order(app: gr.Blocks, api_name: str, table: str) -> None:
    """Explore and Backtest answer a `ChartView`: the chart, its table, the message and the CSV."""
    names = {"chart": "chart", "table": table, "message": "message", "download": "download"}
    assert _written(app, api_name) == [f"{api_name}-{names[field]}" for field in ChartView._fields]
