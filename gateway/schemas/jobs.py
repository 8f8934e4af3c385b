"""Bodies of `GET /api/jobs` and `/api/jobs/{job_id}`: a training job's durable record, per category."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from core.settings import DeployPolicy
from gateway.schemas.common import EXAMPLE_METRICS, ConfiguredParts, ServiceFacts

JobStatus = Literal["queued", "running", "succeeded", "failed"]
CategoryState = Literal["queued", "training", "deploying", "succeeded", "failed", "unchanged"]
FINAL_STATES = ("succeeded", "failed", "unchanged")
"""A category in these states is done (`unchanged`: `only_changed` left its latest version)."""


class CategoryOutcome(BaseModel):
    category: str
    state: CategoryState
    version: str | None = Field(default=None, description="The version this job trained.")
    served_version_before: str | None = Field(
        default=None, description="Version TorchServe served when the job started."
    )
    metrics: dict[str, Any] | None = Field(default=None, description="`metrics.json` of the new version.")
    deployed: bool | None = None
    deploy_reason: str | None = None
    failed_step: Literal["training", "archive", "deploy"] | None = None
    error: str | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What went wrong after the new version took over (e.g. an old version that would "
        "not unregister); the deploy still stands.",
    )
    seconds: float | None = Field(
        default=None,
        description="While the category runs: seconds since it started (training and deploy). Once it "
        "finished: its training alone; the job's elapsed time (finished_at - started_at) adds process "
        "start-up and deploying.",
    )
    phase: Literal["evaluation", "serving"] | None = Field(
        default=None, description="While training: the held-out evaluation fit, then the served model's fit."
    )
    epoch: int | None = Field(default=None, description="Epochs done (while training: the current one).")
    max_epochs: int | None = Field(default=None, description="Epoch limit; early stopping may end sooner.")
    classical_only: bool | None = Field(
        default=None,
        description="True: too short a history for the networks, the version trains its classical part "
        "only (no epochs); its `metrics` and `GET /api/models` (`fallback`) say why once it finished.",
    )
    train_loss: float | None = Field(default=None, description="Last epoch's training loss (normalized).")
    val_loss: float | None = Field(default=None, description="Last epoch's validation loss (normalized).")
    train_losses: list[float] = Field(
        default_factory=list, description="Training loss per epoch of the current fit (normalized)."
    )
    val_losses: list[float | None] = Field(
        default_factory=list, description="Validation loss per epoch of the current fit (normalized)."
    )
    mlflow_experiment_id: str | None = Field(default=None, description="MLflow experiment of the run.")
    mlflow_run_id: str | None = Field(default=None, description="MLflow run that tracked this training.")


class Job(BaseModel):
    job_id: str
    kind: Literal["train", "train_all"]
    status: JobStatus
    categories: list[str]
    experiment_name: str
    deploy_policy: DeployPolicy
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    dataset_id: str | None = Field(default=None, description="Dataset the job learns from.")
    dataset_name: str | None = None
    dataset_sha256: str | None = Field(default=None, description="SHA-256 of that dataset's file.")
    only_changed: bool = Field(
        default=False, description="Only new categories and those whose data changed train."
    )
    shared_network: str | None = Field(
        default=None, description="Saved shared networks the categories refit against (`latest` or an id)."
    )
    cancel_requested: bool = Field(
        default=False,
        description="`POST /api/jobs/{job_id}/cancel` asked to stop it: a queued job fails at once, a "
        'running one when its runner (any gateway replica) next polls; either ends `failed`, "cancelled '
        'by a request".',
    )
    results: list[CategoryOutcome]


class JobList(BaseModel):
    jobs: list[Job]


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """A finished job's example, in this gateway's window and data."""
    outcome = {
        "category": facts.category,
        "state": "succeeded",
        "version": "20261126.101500",
        "served_version_before": "20261125.090000",
        "metrics": {"window_size": facts.window_size, "test": EXAMPLE_METRICS},
        "deployed": True,
        "deploy_reason": "test RMSE 561.2 < seasonal-naive 810.9 and <= served 590.0",
        "failed_step": None,
        "error": None,
        "warnings": [],
        "seconds": 41.8,
    }
    job = {
        "job_id": "5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
        "kind": "train",
        "status": "succeeded",
        "categories": [facts.category],
        "experiment_name": "exp-1",
        "deploy_policy": "if_better",
        "created_at": "2026-11-26T10:15:00Z",
        "started_at": "2026-11-26T10:15:00Z",
        "finished_at": "2026-11-26T10:15:42Z",
        "error": None,
        "results": [outcome],
    }
    return {"Job": {"examples": [job]}}
