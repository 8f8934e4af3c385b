"""Text, HTML and tables the page shows: messages, numbers, job progress, metrics against baselines.

Pure functions from gateway answers to display values, so they are tested without a browser.
Everything inserted into HTML is escaped: messages can quote user input back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from ui.api_models import CategoryOutcome, Health, Job

MessageKind = Literal["info", "ok", "warning", "error"]
_CODE_SPAN = re.compile(r"`([^`]+)`")

# Display names of the forecasters in metrics.json's "test" section, in table order.
FORECASTER_NAMES: dict[str, str] = {
    "model": "CNN-LSTM (new version)",
    "served": "Served version",
    "naive": "Naive (yesterday's value)",
    "seasonal_naive": "Seasonal naive (same weekday last week)",
    "moving_average": "Moving average",
}
METRIC_NAMES: dict[str, str] = {
    "mae": "MAE",
    "rmse": "RMSE",
    "smape": "sMAPE %",
    "mase": "MASE",
    "rmsse": "RMSSE",
    "wape": "WAPE %",
    "bias": "Bias",
}
METRICS_COLUMNS = ["Category", "Forecaster", *METRIC_NAMES.values()]
OUTCOME_COLUMNS = [
    "Category",
    "State",
    "Epoch",
    "Train loss",
    "Val loss",
    "Time (s)",
    "New version",
    "Deployed",
    "Why / error",
]
JOBS_COLUMNS = [
    "Job id",
    "Created (UTC)",
    "Status",
    "Categories",
    "Elapsed (s)",
    "Dataset",
    "Experiment",
    "Deploy policy",
]
TIME_NOTE = (
    "Time (s): while a category trains, seconds since it started; once done, its training alone (windows, "
    "fit, test, export). The job's elapsed time adds starting the training process and deploying."
)
SAME_SCORE_TOLERANCE = 1e-6  # relative: RMSE and MAE this close count as "the same"
CLASSICAL_ONLY_WHY = "too short a history for the networks"


def message_html(kind: MessageKind, text: str) -> str:
    """A coloured one-paragraph message box (styled by the app's CSS classes); `x` becomes code."""
    body = _CODE_SPAN.sub(r"<code>\1</code>", html.escape(text))
    return f'<div class="sc-msg sc-{kind}">{body}</div>'


def format_sales(value: float) -> str:
    """`1234.5` → `1,234.50`: sales amounts always with two decimals and thousands separators."""
    return f"{value:,.2f}"


def health_html(health: Health | None, error: str | None, gateway_url: str) -> str:
    """The banner at the top of the page: is the gateway reachable, is the model server ready."""
    if health is None:
        return message_html("error", f"Gateway unavailable. {error or f'No answer from {gateway_url}.'}")
    if health.status == "ok":
        return message_html("ok", f"Connected to the gateway at {gateway_url}; the model server is ready.")
    detail = health.torchserve.detail or health.torchserve.status
    return message_html(
        "warning",
        f"The gateway at {gateway_url} is up, but the model server is not ready ({detail}). "
        "Predictions will fail until it is back; history and jobs still work.",
    )


def prediction_markdown(category: str, prediction: float, model_version: str, window_size: int) -> str:
    """The Predict tab's headline answer."""
    return (
        f"### Next-day forecast for {category}: **{format_sales(prediction)}**\n"
        f"Model version `{model_version}` · from the last {window_size} days"
    )


def forecast_markdown(
    category: str, day: str, prediction: float, model_version: str, history_end: str
) -> str:
    """The 'Forecast tomorrow' answer, with the date it is for."""
    return (
        f"### Forecast for {category} on {day}: **{format_sales(prediction)}**\n"
        f"Model version `{model_version}` · from the stored history up to {history_end}"
    )


# ---- training jobs ----------------------------------------------------------------------------


def job_progress(job: Job) -> tuple[int, int]:
    """(categories finished, categories in the job)."""
    total = len(job.results) or len(job.categories)
    done = sum(1 for outcome in job.results if outcome.state in ("succeeded", "failed", "unchanged"))
    return done, total


def job_elapsed_s(job: Job, now: pd.Timestamp | None = None) -> float | None:
    """Seconds from the job's start to its end (or to `now` while it runs); None before it started."""
    if not job.started_at:
        return None
    start = pd.Timestamp(job.started_at)
    end = pd.Timestamp(job.finished_at) if job.finished_at else (now or pd.Timestamp.now(tz="UTC"))
    return max(0.0, float((end - start).total_seconds()))


def job_status_html(job: Job, now: pd.Timestamp | None = None) -> str:
    """Status line (elapsed time, dataset), a progress bar with each category's epoch while the job runs,
    the job's error when it failed, and a note when a new version scores the same as the served one."""
    done, total = job_progress(job)
    states = ", ".join(_live_state(outcome) for outcome in job.results)
    elapsed = job_elapsed_s(job, now)
    timing = f", elapsed {elapsed:.0f} s" if elapsed is not None else ""
    dataset = f", dataset {html.escape(job.dataset_name or job.dataset_id or '')}" if job.dataset_id else ""
    head = (
        f"<b>Job <code>{html.escape(job.job_id)}</code> — {html.escape(job.status)}</b> "
        f"({done} of {total} categories finished{timing}{dataset})"
    )
    parts = [f'<div class="sc-job sc-job-{html.escape(job.status)}">{head}']
    if not job.finished:
        # indeterminate bar while queued; a determinate one once categories finish
        value = f' value="{done}" max="{max(total, 1)}"' if job.status == "running" and done else ""
        parts.append(f'<progress class="sc-progress"{value}></progress>')
    if states:
        parts.append(f"<div>{html.escape(states)}</div>")
    parts.append("</div>")
    status_box = "".join(parts)
    if job.status == "failed":
        reason = job.error or _first_error(job.results) or "no reason given"
        status_box += message_html("error", f"The job failed: {reason}")
    elif job.status == "succeeded":
        status_box += message_html("ok", _deploy_summary(job.results))
    for note in same_score_notes(job.results):
        status_box += message_html("warning", note)
    return status_box


def _live_state(outcome: CategoryOutcome) -> str:
    if outcome.state == "training" and outcome.epoch is not None:
        limit = f"/{outcome.max_epochs}" if outcome.max_epochs else ""
        loss = f", val loss {outcome.val_loss:.4f}" if outcome.val_loss is not None else ""
        seconds = f", {outcome.seconds:.0f} s" if outcome.seconds is not None else ""
        return f"{outcome.category}: epoch {outcome.epoch}{limit}{loss}{seconds}"
    if outcome.state == "training" and outcome.classical_only:
        return f"{outcome.category}: training its classical part only ({CLASSICAL_ONLY_WHY})"
    return f"{outcome.category}: {outcome.state}"


def same_score_notes(results: Sequence[CategoryOutcome]) -> list[str]:
    """A note per category whose new version scored exactly like the version served when it trained:
    the same data and seed give the same model, so deploying it changes nothing."""
    notes = []
    for outcome in results:
        test = _test_metrics(outcome.metrics)
        model, served = test.get("model"), test.get("served")
        if not isinstance(model, Mapping) or not isinstance(served, Mapping):
            continue
        if all(_same(model.get(name), served.get(name)) for name in ("rmse", "mae")):
            version = outcome.metrics.get("served_version") if outcome.metrics else None
            done = "was deployed anyway" if outcome.deployed else "was not deployed"
            notes.append(
                f"{outcome.category}: the new version {outcome.version} scores the same as the served "
                f"version {version} (test RMSE {_metric(model.get('rmse'))}, MAE "
                f"{_metric(model.get('mae'))}) — most likely the same model trained on the same data; "
                f"it {done}."
            )
    return notes


def _same(left: object, right: object) -> bool:
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return False
    return abs(left - right) <= SAME_SCORE_TOLERANCE * max(abs(left), abs(right), 1.0)


def _first_error(results: Sequence[CategoryOutcome]) -> str | None:
    for outcome in results:
        if outcome.error:
            step = f" during {outcome.failed_step}" if outcome.failed_step else ""
            return f"{outcome.category}{step}: {outcome.error}"
    return None


def _deploy_summary(results: Sequence[CategoryOutcome]) -> str:
    parts = []
    for outcome in results:
        if outcome.state == "failed":
            parts.append(f"{outcome.category} failed")
        elif outcome.deployed:
            parts.append(f"{outcome.category} {outcome.version} deployed")
        else:
            parts.append(f"{outcome.category} {outcome.version} trained, not deployed")
    return "Finished: " + "; ".join(parts) if parts else "Finished."


def outcome_frame(job: Job) -> pd.DataFrame:
    """One row per category: state, epoch of the limit, last losses, time, new version, deployed or not
    and why (or the error)."""
    rows = []
    for outcome in job.results:
        deployed = "—" if outcome.deployed is None else ("yes" if outcome.deployed else "no")
        why = outcome.error or outcome.deploy_reason or ""
        if outcome.error and outcome.failed_step:
            why = f"{outcome.failed_step}: {outcome.error}"
        seconds = f"{outcome.seconds:.1f}" if outcome.seconds is not None else ""
        epoch = "classical only" if outcome.classical_only else ""
        if outcome.epoch is not None and not outcome.classical_only:
            epoch = f"{outcome.epoch}/{outcome.max_epochs}" if outcome.max_epochs else str(outcome.epoch)
        rows.append(
            [
                outcome.category,
                outcome.state,
                epoch,
                _loss(outcome.train_loss if outcome.train_loss is not None else _last(outcome.train_losses)),
                _loss(outcome.val_loss if outcome.val_loss is not None else _last(outcome.val_losses)),
                seconds,
                outcome.version or "—",
                deployed,
                why,
            ]
        )
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)


def mlflow_links_html(job: Job, mlflow_url: str) -> str:
    """A link to each category's MLflow run (opens in a new tab)."""
    links = [
        f'<a class="sc-mlflow" href="{html.escape(run_url(mlflow_url, outcome), quote=True)}" '
        f'target="_blank" rel="noopener">{html.escape(outcome.category)}: MLflow run '
        f"{html.escape(outcome.mlflow_run_id or '')}</a>"
        for outcome in job.results
        if outcome.mlflow_run_id and outcome.mlflow_experiment_id
    ]
    return "<div>" + " · ".join(links) + "</div>" if links else ""


def run_url(mlflow_url: str, outcome: CategoryOutcome) -> str:
    """The MLflow UI's page of the outcome's run."""
    base = mlflow_url.rstrip("/")
    return f"{base}/#/experiments/{outcome.mlflow_experiment_id}/runs/{outcome.mlflow_run_id}"


def _last(values: Sequence[float | None]) -> float | None:
    return values[-1] if values else None


def _loss(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else ""


def metrics_frame(results: Sequence[CategoryOutcome]) -> pd.DataFrame:
    """Test metrics of the new model next to the baselines (and the served version), per category."""
    rows: list[list[Any]] = []
    for outcome in results:
        test = _test_metrics(outcome.metrics)
        for key, name in FORECASTER_NAMES.items():
            values = test.get(key)
            if not isinstance(values, Mapping):
                continue
            label = name
            if key == "served" and outcome.metrics and outcome.metrics.get("served_version"):
                label = f"{name} {outcome.metrics['served_version']}"
            rows.append([outcome.category, label, *(_metric(values.get(metric)) for metric in METRIC_NAMES)])
    return pd.DataFrame(rows, columns=METRICS_COLUMNS)


def _test_metrics(metrics: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not metrics:
        return {}
    test = metrics.get("test", metrics)
    return test if isinstance(test, Mapping) else {}


def _metric(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    return f"{value:,.2f}"


def jobs_frame(jobs: Sequence[Job]) -> pd.DataFrame:
    """The recent-jobs list, newest first as the gateway returns it (running and queued ones included)."""
    rows = []
    for job in jobs:
        elapsed = job_elapsed_s(job)
        rows.append(
            [
                job.job_id,
                short_time(job.created_at),
                job.status,
                ", ".join(job.categories),
                f"{elapsed:.0f}" if elapsed is not None else "",
                job.dataset_name or "",
                job.experiment_name or "",
                job.deploy_policy or "",
            ]
        )
    return pd.DataFrame(rows, columns=JOBS_COLUMNS)


def short_time(timestamp: str | None) -> str:
    """`2026-11-26T10:15:00.123456Z` → `2026-11-26 10:15:00`."""
    if not timestamp:
        return ""
    try:
        parsed = pd.Timestamp(timestamp)
    except ValueError:
        return timestamp
    if parsed.tzinfo is not None:
        parsed = parsed.tz_convert("UTC")
    return str(parsed.strftime("%Y-%m-%d %H:%M:%S"))
