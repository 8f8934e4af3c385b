"""Tests of the Gradio UI: its own functions, its handlers against a real gateway, a real browser."""
