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
