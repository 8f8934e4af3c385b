"""The Train tab's line on scheduled retraining (`GET /api/schedule`): when it runs next, and what its
last run did and why."""

from __future__ import annotations

from ui.api_models import Schedule, ScheduledRun
from ui.formatting import short_time


def schedule_markdown(schedule: Schedule | None, error: str | None = None) -> str:
    """One Markdown line; `error` when the gateway could not say."""
    if schedule is None:
        return f"**Scheduled retraining:** unknown ({error or 'no answer from the gateway'})."
    if not schedule.enabled:
        return "**Scheduled retraining:** off (set `retrain.enabled` in the gateway's configuration)."
    parts = [
        f"**Scheduled retraining** (`{schedule.cron}`, {schedule.timezone}): "
        f"next run {_utc(schedule.next_run) or 'not planned yet'}",
        f"last run {_last_run(schedule.last_run, schedule.last_job_status)}",
    ]
    if schedule.runner == "none":
        parts.append("no gateway process runs the schedule now")
    return " · ".join(parts) + "."


def _last_run(run: ScheduledRun | None, job_status: str | None) -> str:
    if run is None:
        return "none yet"
    when = _utc(run.at)
    if run.error:
        return f"{when} failed: {run.error} (retried at the next check)"
    if run.skipped:
        return f"{when} filed nothing, {run.skipped}"
    status = f", {job_status}" if job_status else ""
    return f"{when} filed job {run.job_id}{status}, because {run.reason}"


def _utc(timestamp: str | None) -> str:
    return f"{short_time(timestamp)} UTC" if timestamp else ""
