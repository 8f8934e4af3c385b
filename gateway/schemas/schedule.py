"""Body of `GET /api/schedule` and the scheduler's state file (`paths.run/schedule.json`): when scheduled
retraining runs next, what its last run did and why, and which gateway process runs it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.settings import DeployPolicy, RetrainTrigger
from gateway.schemas.jobs import JobStatus


class ScheduledRun(BaseModel):
    """One due cron time and what came of it: a filed job (`reason`, `job_id`), a skip (`skipped`), or a
    failure (`error`) retried at the next tick."""

    model_config = ConfigDict(extra="forbid")

    at: str = Field(description="When the run happened (UTC, ISO 8601).")
    due: str = Field(description="The cron time it ran for (UTC, ISO 8601).")
    reason: str | None = Field(default=None, description="Why a job was filed: every trigger that held.")
    job_id: str | None = Field(default=None, description="The `train_all` job it filed.")
    skipped: str | None = Field(
        default=None, description="Why nothing was filed (nothing to do, a job running)."
    )
    error: str | None = Field(default=None, description="Why the run failed; retried at the next tick.")
    deploy: DeployPolicy | None = Field(
        default=None, description="The filed job's deploy policy (`never` inside a freeze window)."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Triggers that could not be checked yet (accuracy_drop before any live scores), and "
        "a freeze window that suspended the deploy.",
    )


class ScheduleRecord(BaseModel):
    """What `schedule.json` holds, so a restarted gateway keeps its next and last run."""

    model_config = ConfigDict(extra="forbid")

    cron: str
    timezone: str
    next_run: str | None = None
    last_run: ScheduledRun | None = None


class Schedule(BaseModel):
    enabled: bool = Field(description="`retrain.enabled`: false = nothing is scheduled.")
    cron: str
    timezone: str
    triggers: list[RetrainTrigger]
    deploy: DeployPolicy
    only_changed: bool
    freeze: list[dict[str, str | None]] = Field(
        default_factory=list, description="`retrain.freeze`: yearly windows without automatic deploys."
    )
    frozen_now: str | None = Field(
        default=None, description="The freeze window in force now (`MM-DD..MM-DD`), null outside them."
    )
    next_run: str | None = Field(description="Next cron time (UTC, ISO 8601); null when disabled.")
    last_run: ScheduledRun | None
    last_job_status: JobStatus | None = Field(
        default=None, description="The status of `last_run.job_id` now."
    )
    runner_pid: int | None = Field(
        description="Process id of the gateway process holding the scheduler lock (null: none holds it)."
    )
    runner: Literal["this_process", "other_process", "none"] = Field(
        description="Whether the process that answered runs the schedule."
    )
