"""Input widgets that several tabs lay out the same way."""

from __future__ import annotations

import gradio as gr


def categories_picker(elem_id: str) -> gr.Dropdown:
    """A multi-select of categories, filled on page load (the gateway rejects unknown names)."""
    return gr.Dropdown(
        choices=[],
        multiselect=True,
        allow_custom_value=True,
        label="Categories",
        scale=3,
        elem_id=elem_id,
    )


def date_box(label: str, empty_means: str, elem_id: str) -> gr.Textbox:
    """Plain text, not a date picker: what is typed is what is checked, and a wrong date is an error."""
    return gr.Textbox(
        label=label,
        placeholder=f"YYYY-MM-DD (empty = {empty_means})",
        scale=1,
        min_width=160,
        elem_id=elem_id,
    )


def tab_intro(text: str) -> gr.Markdown:
    """The paragraph that opens every tab: what it shows and where its numbers come from."""
    return gr.Markdown(text)
