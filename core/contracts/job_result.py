"""The training job's result, `salescast train --result-json`: one `CategoryResult` per category.

The gateway's job runner starts `salescast train` in its own process and reads this file when the
process ends; the CLI prints the same results as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from core.contracts.files import read_contract, write_contract
from core.contracts.metrics import VersionMetrics

ResultStatus = Literal["succeeded", "failed", "unchanged"]
FailedStep = Literal["training", "archive", "deploy"]


class CategoryResult(BaseModel):
    """One category's outcome: the version trained (or why not), and what happened to it after.

    `unchanged`: `--only-changed` skipped it (its data is what `version`, its latest, learned from).
    `deployed` is None when no deploy was asked for, else whether the version now serves;
    `deploy_reason` says why (the policy's numbers, or the failure); `warnings` are problems that did
    not stop the deploy (e.g. an old version that could not be unregistered).
    """

    model_config = ConfigDict(extra="ignore")

    category: str
    status: ResultStatus
    version: str | None = None
    artifact_dir: str | None = None
    metrics: VersionMetrics | None = None
    error: str | None = None
    failed_step: FailedStep | None = None
    seconds: float = 0.0
    epochs: int | None = Field(default=None, description="epochs trained (early stopping may end sooner)")
    archive: str | None = Field(default=None, description="file name of the .mar in the model store")
    deployed: bool | None = None
    deploy_reason: str | None = None
    warnings: list[str] = Field(default_factory=list)
    mlflow_experiment_id: str | None = Field(default=None, description="MLflow experiment of the run")
    mlflow_run_id: str | None = Field(default=None, description="MLflow run that tracked this training")


class _Results(RootModel[list[CategoryResult]]):
    pass


def write_results(path: Path, results: Sequence[CategoryResult]) -> Path:
    """Write the results atomically (the job runner never reads half a file)."""
    return write_contract(path, _Results(list(results)))


def read_results(path: Path) -> list[CategoryResult]:
    """The results a training job wrote; `ContractError` when missing or malformed."""
    return read_contract(_Results, path).root
