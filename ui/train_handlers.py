"""What the Train tab's events do, each answering with a named view of the components it fills.

Starting posts to `/api/train` (chosen categories) or `/api/train_all`; the tab's `gr.Timer` then
asks `show_job` every `ui.poll_interval_s`, and the view it answers turns the timer off once the job
has succeeded or failed, so no worker thread sleeps while a job runs. While it runs the view holds
each category's epoch of the limit, its losses (a live loss chart) and the elapsed time, and the
recent-jobs list includes it. When it ends: the saved loss and test-segment forecast plots of each
new version, a link to each MLflow run, the metrics against the baselines (downloadable as CSV), and
a note when a new version scores exactly like the served one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

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
    job_status_html,
    jobs_frame,
    message_html,
    metrics_frame,
    mlflow_links_html,
    outcome_frame,
)
from ui.gateway_client import GatewayClient, GatewayError
from ui.schedule_line import schedule_markdown
from ui.temp_files import TempFolder
from ui.updates import Skip, skip

GATEWAY_DEFAULT = "default"
LOSS_TITLE = "Loss per epoch"
PLOT_NAMES = ("loss", "forecast")
_PLOTS_DIR = TempFolder("salescast-ui-plots")
Gallery = list[tuple[str, str]]


class JobView(NamedTuple):
    """One job: status (with its MLflow links once it ended), progress and outcome per category,
    metrics, the polling timer, the recent jobs, loss chart, saved plots, the links box (left empty:
    the links are in the status) and the metrics CSV."""

    status: str
    outcomes: pd.DataFrame | Skip
    metrics: pd.DataFrame | Skip
    timer: gr.Timer
    jobs: pd.DataFrame | Skip
    loss: go.Figure | Skip
    plots: Gallery | Skip
    links: str | Skip
    download: str | Skip | None


class JobsView(NamedTuple):
    """The recent-jobs table, and why it is empty when the gateway could not list them."""

    jobs: pd.DataFrame
    message: str


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """A table with `columns` and no rows (what a table shows before there is anything to show)."""
    return pd.DataFrame(columns=list(columns))


@dataclass
class TrainHandlers:
    """Event handlers of the Train tab (plain methods, so tests call them directly too)."""

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
        """Queue the job; returns its id, then the first `JobView` of it (the timer starts polling, and
        the recent-jobs list shows it at once)."""
        policy = None if deploy in (None, "", GATEWAY_DEFAULT) else cast(DeployPolicy, deploy)
        if not all_categories and not categories:
            text = "Choose at least one category, or tick “All categories”."
            return "", *_blank(message_html("error", text))
        try:
            if all_categories:
                accepted = self.client.train_all(experiment_name, policy)
            else:
                accepted = self.client.train(list(categories or []), experiment_name, policy)
        except GatewayError as exc:
            return "", *_blank(message_html("error", f"Could not start training: {exc}"))
        return accepted.job_id, *self.show_job(accepted.job_id)

    def show_job(self, job_id: str | None) -> JobView:
        """Status, per-category progress and outcome, loss chart, plots, links and metrics of one job;
        polling stays on while it runs."""
        if not job_id or not job_id.strip():
            return _blank(message_html("info", "No job selected."))
        try:
            job = self.client.job(job_id.strip())
        except GatewayError as exc:
            # keep polling through a gateway blip; an unknown id (404) stops it
            keep_polling = exc.status_code is None or exc.status_code >= 500
            return JobView(
                status=message_html("error", f"Could not read job {job_id}: {exc}"),
                outcomes=skip(),
                metrics=skip(),
                timer=gr.Timer(active=keep_polling),
                jobs=skip(),
                loss=skip(),
                plots=skip(),
                links=skip(),
                download=skip(),
            )
        return self._view(job)

    def recent_jobs(self) -> JobsView:
        """The recent-jobs table (queued and running jobs included), and a message when it cannot be read."""
        try:
            jobs = self.client.jobs().jobs
        except GatewayError as exc:
            return JobsView(empty_frame(JOBS_COLUMNS), message_html("error", f"Could not list jobs: {exc}"))
        return JobsView(jobs_frame(jobs), "")

    def schedule_line(self) -> str:
        """Scheduled retraining's next and last run, or why the gateway could not say."""
        try:
            return schedule_markdown(self.client.schedule())
        except GatewayError as exc:
            return schedule_markdown(None, str(exc))

    def pick_job(self, event: gr.SelectData) -> str | Skip:
        """The job id of the clicked row of the recent-jobs table."""
        row = event.row_value or []
        return str(row[0]) if row else skip()

    def _view(self, job: Job) -> JobView:
        status = job_status_html(job)
        if job.finished:
            status += mlflow_links_html(job, self.mlflow_url)
        losses = {outcome.category: (outcome.train_losses, outcome.val_losses) for outcome in job.results}
        chart = loss_figure(LOSS_TITLE, losses)
        metrics = metrics_frame(job.results)
        download = write_csv(metrics, f"metrics-{job.job_id}") if not metrics.empty else None
        plots = self._plots(job) if job.finished else []
        return JobView(
            status=status,
            outcomes=outcome_frame(job),
            metrics=metrics,
            timer=gr.Timer(value=self.poll_interval_s, active=not job.finished),
            jobs=self.recent_jobs().jobs,
            loss=chart,
            plots=plots,
            links="",
            download=download,
        )

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
                path = _PLOTS_DIR.new() / f"{name}.png"
                path.write_bytes(content)
                caption = (
                    "loss per epoch" if name == "loss" else "test segment: actual vs model vs seasonal naive"
                )
                gallery.append((str(path), f"{outcome.category} {outcome.version}: {caption}"))
        return gallery


def _blank(status: str) -> JobView:
    """No job to show (none chosen, or it could not start): empty tables and chart, polling off."""
    return JobView(
        status=status,
        outcomes=empty_frame(OUTCOME_COLUMNS),
        metrics=empty_frame(METRICS_COLUMNS),
        timer=gr.Timer(active=False),
        jobs=skip(),
        loss=message_figure(LOSS_TITLE, "Start or pick a job"),
        plots=[],
        links="",
        download=None,
    )
