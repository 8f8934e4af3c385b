"""Train tab: start a training job, follow it live, and see what it produced.

Starting posts to `/api/train` (chosen categories) or `/api/train_all`; a `gr.Timer` then polls
`GET /api/jobs/{id}` every `ui.poll_interval_s` and stops once the job has succeeded or failed,
so no worker thread sleeps while a job runs. While it runs the page shows each category's epoch of
the limit, its losses (a live loss chart) and the elapsed time, and the recent-jobs list includes
it. When it ends: the saved loss and test-segment forecast plots of each new version, a link to each
MLflow run, the metrics against the baselines (downloadable as CSV), and a note when a new version
scores exactly like the served one.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from core.settings import DeployPolicy
from ui.api_models import Job
from ui.charts import loss_figure, message_figure
from ui.downloads import write_csv
from ui.formatting import (
    JOBS_COLUMNS,
    METRICS_COLUMNS,
    OUTCOME_COLUMNS,
    TIME_NOTE,
    job_status_html,
    jobs_frame,
    message_html,
    metrics_frame,
    mlflow_links_html,
    outcome_frame,
)
from ui.gateway_client import GatewayClient, GatewayError
from ui.updates import Skip, skip
from ui.widgets import categories_picker

GATEWAY_DEFAULT = "default"
DEPLOY_CHOICES: list[tuple[str, str]] = [
    ("Gateway default", GATEWAY_DEFAULT),
    ("Only if better than baseline and served model", "if_better"),
    ("Always", "always"),
    ("Never (train and compare only)", "never"),
]
LOSS_TITLE = "Loss per epoch"
PLOT_NAMES = ("loss", "forecast")
_PLOTS_DIR = Path(tempfile.gettempdir()) / "salescast-ui-plots"
Gallery = list[tuple[str, str]]
JobView = tuple[
    str,
    pd.DataFrame | Skip,
    pd.DataFrame | Skip,
    gr.Timer,
    pd.DataFrame | Skip,
    go.Figure | Skip,
    Gallery | Skip,
    str | Skip,
    str | Skip | None,
]


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


@dataclass
class TrainHandlers:
    """Event handlers of the Train tab."""

    client: GatewayClient
    poll_interval_s: float
    mlflow_url: str = "http://127.0.0.1:5000"

    def start(
        self,
        categories: Sequence[str] | None,
        all_categories: bool,
        experiment_name: str | None,
        deploy: str | None,
    ) -> tuple[object, ...]:
        """Queue the job; returns its id and the first view of it (the timer starts polling, and the
        recent-jobs list shows it at once)."""
        policy = None if deploy in (None, "", GATEWAY_DEFAULT) else cast(DeployPolicy, deploy)
        if not all_categories and not categories:
            text = "Choose at least one category, or tick “All categories”."
            return "", message_html("error", text), *self._blank_view()
        try:
            if all_categories:
                accepted = self.client.train_all(experiment_name, policy)
            else:
                accepted = self.client.train(list(categories or []), experiment_name, policy)
        except GatewayError as exc:
            return "", message_html("error", f"Could not start training: {exc}"), *self._blank_view()
        return accepted.job_id, *self.show_job(accepted.job_id)

    def show_job(self, job_id: str | None) -> JobView:
        """Status, per-category progress and outcome, loss chart, plots, links and metrics of one job;
        polling stays on while it runs."""
        if not job_id or not job_id.strip():
            return message_html("info", "No job selected."), *self._blank_view()
        try:
            job = self.client.job(job_id.strip())
        except GatewayError as exc:
            # keep polling through a gateway blip; an unknown id (404) stops it
            keep_polling = exc.status_code is None or exc.status_code >= 500
            status = message_html("error", f"Could not read job {job_id}: {exc}")
            return (
                status,
                skip(),
                skip(),
                gr.Timer(active=keep_polling),
                skip(),
                skip(),
                skip(),
                skip(),
                skip(),
            )
        return self._view(job)

    def recent_jobs(self) -> tuple[pd.DataFrame, str]:
        """The recent-jobs table (queued and running jobs included), and a message when it cannot be read."""
        try:
            jobs = self.client.jobs().jobs
        except GatewayError as exc:
            return _empty(JOBS_COLUMNS), message_html("error", f"Could not list jobs: {exc}")
        return jobs_frame(jobs), ""

    def pick_job(self, event: gr.SelectData) -> str | Skip:
        """The job id of the clicked row of the recent-jobs table."""
        row = event.row_value or []
        return str(row[0]) if row else skip()

    def _view(self, job: Job) -> JobView:
        status = job_status_html(job)
        if job.finished:
            status += mlflow_links_html(job, self.mlflow_url)
        timer = gr.Timer(value=self.poll_interval_s, active=not job.finished)
        losses = {outcome.category: (outcome.train_losses, outcome.val_losses) for outcome in job.results}
        chart = loss_figure(LOSS_TITLE, losses)
        metrics = metrics_frame(job.results)
        download = write_csv(metrics, f"metrics-{job.job_id}") if not metrics.empty else None
        plots = self._plots(job) if job.finished else []
        return status, outcome_frame(job), metrics, timer, self.recent_jobs()[0], chart, plots, "", download

    def _plots(self, job: Job) -> Gallery:
        """The saved loss and forecast PNGs of each version the job trained (fetched from the gateway)."""
        gallery: Gallery = []
        for outcome in job.results:
            if outcome.state != "succeeded" or not outcome.version:
                continue
            for name in PLOT_NAMES:
                try:
                    content = self.client.version_plot(outcome.category, outcome.version, name)
                except GatewayError:
                    continue
                folder = _PLOTS_DIR / uuid.uuid4().hex[:12]
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{name}.png"
                path.write_bytes(content)
                caption = (
                    "loss per epoch" if name == "loss" else "test segment: actual vs model vs seasonal naive"
                )
                gallery.append((str(path), f"{outcome.category} {outcome.version}: {caption}"))
        return gallery

    def _blank_view(
        self,
    ) -> tuple[pd.DataFrame, pd.DataFrame, gr.Timer, Skip, go.Figure, Gallery, str, None]:
        return (
            _empty(OUTCOME_COLUMNS),
            _empty(METRICS_COLUMNS),
            gr.Timer(active=False),
            skip(),
            message_figure(LOSS_TITLE, "Start or pick a job"),
            [],
            "",
            None,
        )


@dataclass
class TrainTab:
    """Components the app updates on load."""

    categories: gr.Dropdown
    jobs: gr.Dataframe
    message: gr.HTML


def build_train_tab(handlers: TrainHandlers) -> TrainTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    gr.Markdown(
        "Train new versions on the active dataset (see the Data tab). With the default policy a new "
        "version is served only when it beats the seasonal-naive baseline and is not worse than the "
        "version served now."
    )
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
        value=_empty(OUTCOME_COLUMNS),
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
        value=_empty(METRICS_COLUMNS),
        label="Test metrics: new model vs baselines (lower is better)",
        interactive=False,
        elem_id="train-metrics",
    )
    download = gr.DownloadButton("Download metrics (CSV)", value=None, size="sm", elem_id="train-download")
    with gr.Row():
        gr.Markdown("### Recent jobs")
        refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="train-refresh")
    jobs_message = gr.HTML()
    jobs = gr.Dataframe(
        value=_empty(JOBS_COLUMNS),
        label="Click a row to show that job",
        interactive=False,
        elem_id="train-jobs",
    )
    timer = gr.Timer(value=handlers.poll_interval_s, active=False)

    view = [status, outcomes, metrics, timer, jobs, loss, plots, links, download]
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
    refresh.click(handlers.recent_jobs, outputs=[jobs, jobs_message], api_name="recent_jobs")
    jobs.select(handlers.pick_job, outputs=[job_id], api_visibility="private").then(
        handlers.show_job, inputs=[job_id], outputs=view, api_visibility="private"
    )
    return TrainTab(categories, jobs, jobs_message)
