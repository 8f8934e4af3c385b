"""Train tab: start a training job, follow it to the end, compare the new models with the baselines.

Starting posts to `/api/train` (chosen categories) or `/api/train_all`; a `gr.Timer` then polls
`GET /api/jobs/{id}` every `ui.poll_interval_s` and stops once the job has succeeded or failed,
so no worker thread sleeps while a job runs. Picking a row of the recent-jobs list shows that
job (and follows it if it is still running).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import gradio as gr
import pandas as pd

from core.settings import DeployPolicy
from ui.api_models import Job
from ui.formatting import (
    JOBS_COLUMNS,
    METRICS_COLUMNS,
    OUTCOME_COLUMNS,
    job_status_html,
    jobs_frame,
    message_html,
    metrics_frame,
    outcome_frame,
)
from ui.gateway_client import GatewayClient, GatewayError
from ui.updates import Skip, skip

GATEWAY_DEFAULT = "default"
DEPLOY_CHOICES: list[tuple[str, str]] = [
    ("Gateway default", GATEWAY_DEFAULT),
    ("Only if better than baseline and served model", "if_better"),
    ("Always", "always"),
    ("Never (train and compare only)", "never"),
]
JobView = tuple[str, pd.DataFrame | Skip, pd.DataFrame | Skip, gr.Timer, pd.DataFrame | Skip]
StartView = tuple[str, str, pd.DataFrame | Skip, pd.DataFrame | Skip, gr.Timer, pd.DataFrame | Skip]


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


@dataclass
class TrainHandlers:
    """Event handlers of the Train tab."""

    client: GatewayClient
    poll_interval_s: float

    def start(
        self,
        categories: Sequence[str] | None,
        all_categories: bool,
        experiment_name: str | None,
        deploy: str | None,
    ) -> StartView:
        """Queue the job; returns its id and the first view of it (the timer starts polling)."""
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
        status, outcomes, metrics, timer, jobs = self.show_job(accepted.job_id)
        return accepted.job_id, status, outcomes, metrics, timer, jobs

    def show_job(self, job_id: str | None) -> JobView:
        """Status, per-category outcome and metrics of one job; polling stays on while it runs."""
        if not job_id or not job_id.strip():
            return message_html("info", "No job selected."), *self._blank_view()
        try:
            job = self.client.job(job_id.strip())
        except GatewayError as exc:
            # keep polling through a gateway blip; an unknown id (404) stops it
            keep_polling = exc.status_code is None or exc.status_code >= 500
            status = message_html("error", f"Could not read job {job_id}: {exc}")
            return status, skip(), skip(), gr.Timer(active=keep_polling), skip()
        return self._view(job)

    def recent_jobs(self) -> tuple[pd.DataFrame, str]:
        """The recent-jobs table, and a message when the gateway cannot list them."""
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
        timer = gr.Timer(value=self.poll_interval_s, active=not job.finished)
        jobs = self.recent_jobs()[0] if job.finished else skip()
        return status, outcome_frame(job), metrics_frame(job.results), timer, jobs

    def _blank_view(self) -> tuple[pd.DataFrame, pd.DataFrame, gr.Timer, Skip]:
        return _empty(OUTCOME_COLUMNS), _empty(METRICS_COLUMNS), gr.Timer(active=False), skip()


@dataclass
class TrainTab:
    """Components the app updates on load."""

    categories: gr.Dropdown
    jobs: gr.Dataframe
    message: gr.HTML


def build_train_tab(handlers: TrainHandlers) -> TrainTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    gr.Markdown(
        "Train new versions on the gateway's data. With the default policy a new version is served only "
        "when it beats the seasonal-naive baseline and is not worse than the version served now."
    )
    with gr.Row():
        categories = gr.Dropdown(
            choices=[],
            multiselect=True,
            allow_custom_value=True,  # choices arrive per page load; the gateway rejects unknown names
            label="Categories",
            scale=3,
            elem_id="train-categories",
        )
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
        label="Result per category",
        interactive=False,
        wrap=True,
        column_widths=["12%", "10%", "16%", "9%", "45%", "8%"],
        elem_id="train-outcomes",
    )
    metrics = gr.Dataframe(
        value=_empty(METRICS_COLUMNS),
        label="Test metrics: new model vs baselines (lower is better)",
        interactive=False,
        elem_id="train-metrics",
    )
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

    view = [status, outcomes, metrics, timer, jobs]
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
