"""Typed helpers for Gradio's "leave this output unchanged" answers."""

from __future__ import annotations

from typing import Any, cast

import gradio as gr

Skip = dict[str, Any]


def skip() -> Skip:
    """`gr.skip()` with a type: the output keeps its current value."""
    return cast(Skip, gr.skip())
