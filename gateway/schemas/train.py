"""Bodies of `POST /api/train` and `/api/train_all`: what to train, and the accepted job."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from core.contracts.job_spec import SHARED_NETWORK_PATTERN
from core.settings import DeployPolicy
from gateway.schemas.common import ConfiguredParts, ServiceFacts, StrictBody
from gateway.schemas.jobs import JobStatus


class TrainOptions(StrictBody):
    """What both training routes take besides the categories."""

    only_changed: StrictBool = Field(
        default=False,
        description="Train only the categories that are new or whose daily series changed since their "
        "latest version; the others are reported with state `unchanged` (their version stays).",
    )
    shared_network: str | None = Field(
        default=None,
        pattern=SHARED_NETWORK_PATTERN,
        description="Refit each category's own part (level/profile fit, calibration) against the shared "
        "networks an earlier run saved, `latest` or their id, instead of training new ones (the job fails "
        "naming the saved ids when they do not exist or do not fit the config).",
    )


class TrainRequest(TrainOptions):
    categories: list[str] = Field(min_length=1, description="Categories to train (each trained separately).")
    experiment_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="MLflow experiment; default from config."
    )
    deploy: DeployPolicy | None = Field(
        default=None, description="Deploy policy for this job; default `gateway.deploy_policy`."
    )


class TrainAllRequest(TrainOptions):
    experiment_name: str | None = Field(default=None, min_length=1, max_length=200)
    deploy: DeployPolicy | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"experiment_name": "nightly", "deploy": "always"},
                {"experiment_name": "daily", "only_changed": True, "shared_network": "latest"},
            ]
        },
    )


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
                    "status": "queued",
                    "status_url": "/api/jobs/5f0c1e0a9b2d4c7e8f6a1b2c3d4e5f60",
                }
            ]
        }
    )


def configured_parts(facts: ServiceFacts) -> ConfiguredParts:
    """A request to train a category of this gateway's data."""
    example = {"categories": [facts.category], "experiment_name": "exp-1", "deploy": "if_better"}
    return {"TrainRequest": {"examples": [example]}}
