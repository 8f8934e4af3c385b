"""Train tab: the layout and its events (what each event does is in `train_handlers`).

Each handler answers with a named view; `outputs_for` lists the components in the view's order, so
no event lists its outputs by hand. Starting a job answers its id first, then its `JobView`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from gradio.blocks import Block

from ui.formatting import JOBS_COLUMNS, METRICS_COLUMNS, OUTCOME_COLUMNS, TIME_NOTE
from ui.train_handlers import GATEWAY_DEFAULT, LOSS_TITLE, JobsView, JobView, TrainHandlers, empty_frame
from ui.views import outputs_for
from ui.widgets import categories_picker, tab_intro

INTRO = (
    "Train new versions on the active dataset (see the Data tab). With the default policy a new "
    "version is served only when it beats the seasonal-naive baseline and is not worse than the "
    "version served now."
)


@dataclass
class TrainTab:
    """Components the app updates on load."""

    categories: gr.Dropdown
    jobs: gr.Dataframe
    message: gr.HTML


DEPLOY_CHOICES: list[tuple[str, str]] = [
    ("Gateway default", GATEWAY_DEFAULT),
    ("Only if better than baseline and served model", "if_better"),
    ("Always", "always"),
    ("Never (train and compare only)", "never"),
]


def build_train_tab(handlers: TrainHandlers) -> TrainTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    tab_intro(INTRO)
    with gr.Row():
        categories = categories_picker("train-categories")
        all_categories = gr.Checkbox(label="All categories", value=False, scale=1, elem_id="train-all")
    with gr.Row():
        experiment = gr.Textbox(
            label="MLflow experiment",
            placeholder="empty = the gateway's default experiment",
            scale=2,
            elem_id="train-experiment",
        )
        deploy = gr.Dropdown(
            choices=DEPLOY_CHOICES,
            value=GATEWAY_DEFAULT,
            label="Deploy policy",
            scale=2,
            elem_id="train-deploy",
        )
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start")
        job_id = gr.Textbox(label="Job id", scale=2, elem_id="train-job-id")
        show = gr.Button("Show job", elem_id="train-show")
    status = gr.HTML(elem_id="train-status")
    outcomes = gr.Dataframe(
        value=empty_frame(OUTCOME_COLUMNS),
        label="Progress and result per category",
        interactive=False,
        wrap=True,
        elem_id="train-outcomes",
    )
    gr.Markdown(TIME_NOTE, elem_id="train-time-note")
    loss = gr.Plot(label=LOSS_TITLE, elem_id="train-loss")
    plots = gr.Gallery(
        label="Saved plots of the new versions",
        columns=2,
        height=460,
        object_fit="contain",
        elem_id="train-plots",
    )
    links = gr.HTML(elem_id="train-links")
    metrics = gr.Dataframe(
        value=empty_frame(METRICS_COLUMNS),
        label="Test metrics: new model vs baselines (lower is better)",
        interactive=False,
        elem_id="train-metrics",
    )
    download = gr.DownloadButton("Download metrics (CSV)", value=None, size="sm", elem_id="train-download")
    with gr.Row():
        gr.Markdown("### Recent jobs")
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="train-refresh")
    jobs_message = gr.HTML()
    schedule = gr.Markdown(
        handlers.schedule_line, elem_id="train-schedule"
    )  # a callable: read on each page load
    jobs = gr.Dataframe(
        value=empty_frame(JOBS_COLUMNS),
        label="Click a row to show that job",
        interactive=False,
        elem_id="train-jobs",
    )
    timer = gr.Timer(value=handlers.poll_interval_s, active=False)

    parts: dict[str, Block] = {
        "status": status,
        "outcomes": outcomes,
        "metrics": metrics,
        "timer": timer,
        "jobs": jobs,
        "loss": loss,
        "plots": plots,
        "links": links,
        "download": download,
        "message": jobs_message,
    }
    view = outputs_for(JobView, parts)
    start.click(
        handlers.start,
        inputs=[categories, all_categories, experiment, deploy],
        outputs=[job_id, *view],
        api_name="start_training",
    )
    show.click(handlers.show_job, inputs=[job_id], outputs=view, api_name="job_status")
    job_id.submit(handlers.show_job, inputs=[job_id], outputs=view, api_visibility="private")
    timer.tick(
        handlers.show_job, inputs=[job_id], outputs=view, api_visibility="private", show_progress="hidden"
    )
    refresh.click(handlers.recent_jobs, outputs=outputs_for(JobsView, parts), api_name="recent_jobs")
    refresh.click(handlers.schedule_line, outputs=[schedule], api_visibility="private")
    jobs.select(handlers.pick_job, outputs=[job_id], api_visibility="private").then(
        handlers.show_job, inputs=[job_id], outputs=view, api_visibility="private"
    )
    return TrainTab(categories, jobs, jobs_message)
