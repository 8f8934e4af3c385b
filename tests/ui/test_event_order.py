"""Redraws of one tab run in the order they were asked for."""

from __future__ import annotations

from core.settings import Settings
from ui.app import build_app


def test_every_explore_redraw_shares_one_ordered_queue(test_settings: Settings) -> None:
    """A category change and a Show right after it must not run side by side: the older, slower
    redraw could land last and leave the chart of the old range (seen once in the browser test)."""
    app = build_app(test_settings)
    redraws = [
        fn
        for fn in app.fns.values()
        if any(getattr(block, "elem_id", None) == "explore-chart" for block in fn.outputs)
    ]
    triggers = {event for fn in redraws for _, event in fn.targets}
    assert triggers == {"click", "change", "submit"}
    assert len(redraws) == 5  # Show, the category choice, and Enter in each of the three boxes
    assert {(fn.concurrency_id, fn.concurrency_limit) for fn in redraws} == {("explore-redraw", 1)}


def test_what_a_blur_writes_only_its_own_queue_also_writes(test_settings: Settings) -> None:
    """A click on a button blurs the box being typed in, so the two answers race. When the box's
    check and Predict both wrote the tab's message, the check's "all fine" landed after Predict's
    error and wiped it (seen once in the browser test). Now the check has its own line, and what
    else rewrites the box and its table (fill, category) runs in the blur's ordered queue."""
    app = build_app(test_settings)
    blurs = [fn for fn in app.fns.values() if any(event == "blur" for _, event in fn.targets)]
    assert blurs, "the Predict tab's box mirrors itself in the table on blur"
    for blur in blurs:
        assert blur.concurrency_limit == 1
        written = {block._id for block in blur.outputs}
        for fn in app.fns.values():
            if written & {block._id for block in fn.outputs}:
                assert fn.concurrency_id == blur.concurrency_id, fn.name
    predict = next(fn for fn in app.fns.values() if fn.api_name == "predict")
    assert predict.concurrency_id != blurs[0].concurrency_id  # forecasts of many users still run side by side
