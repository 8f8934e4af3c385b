"""UI: a Gradio app that is an HTTP client of the gateway."""
