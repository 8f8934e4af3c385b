"""The gateway's JSON answers as the UI reads them (a client-side copy of the /api response shapes).

The UI is an HTTP client and must not import `gateway/`; these models hold only the fields the
UI shows and ignore any others, so the gateway can add fields without breaking the page.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

JobStatus = Literal["queued", "running", "succeeded", "failed"]
FINISHED_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Prediction(_Answer):
    category: str
    prediction: float
    model_version: str
    window_size: int


class Forecast(_Answer):
    category: str
    date: str
    prediction: float
    model_version: str
    window_size: int | None = None
    history_end: str


class History(_Answer):
    category: str
    start: str | None = None
    end: str | None = None
    dates: list[str]
    sales: list[float]


class ModelVersion(_Answer):
    version: str
    is_default: bool = False
    window_size: int | None = None
    ready_workers: int = 0


class CategoryModel(_Answer):
    category: str
    default_version: str | None = None
    window_size: int | None = None
    test_metrics: dict[str, Any] | None = None
    versions: list[ModelVersion] = []


class ModelList(_Answer):
    models: list[CategoryModel]


class JobAccepted(_Answer):
    job_id: str
    status: JobStatus
    status_url: str | None = None


class CategoryOutcome(_Answer):
    category: str
    state: str
    version: str | None = None
    served_version_before: str | None = None
    metrics: dict[str, Any] | None = None
    deployed: bool | None = None
    deploy_reason: str | None = None
    failed_step: str | None = None
    error: str | None = None
    seconds: float | None = None


class Job(_Answer):
    job_id: str
    kind: str = "train"
    status: JobStatus
    categories: list[str] = []
    experiment_name: str | None = None
    deploy_policy: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    results: list[CategoryOutcome] = []

    @property
    def finished(self) -> bool:
        """True once the job has reached `succeeded` or `failed` (polling can stop)."""
        return self.status in FINISHED_STATUSES


class JobList(_Answer):
    jobs: list[Job]


class TorchServeHealth(_Answer):
    status: str
    detail: str | None = None


class Health(_Answer):
    status: str
    torchserve: TorchServeHealth
