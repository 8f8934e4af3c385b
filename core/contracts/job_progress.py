"""A running training job's progress, `salescast train --progress-json`: rewritten atomically at every
state change and epoch, read by the gateway's job runner while the job runs (what the UI shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.files import ContractError, read_contract, write_contract

CategoryState = Literal["queued", "training", "deploying", "succeeded", "failed", "unchanged"]
TrainingPhase = Literal["evaluation", "serving"]
EVERY_TRAINING = "*"
"""The `category` of an event meant for every category of the job still training networks (one with
`max_epochs`): the epochs of the networks a run trains once for all of them (`training.shared`), heard
once, not once per category."""


class CategoryProgress(BaseModel):
    """Where one category's training stands: state, version, which fit (`evaluation`: the held-out
    one, `serving`: the model that will be served), its epoch of max (no max: it trains no networks,
    a short history's classical-only version, which `classical_only` says), last and per-epoch losses
    (of the current fit), seconds since it started."""

    model_config = ConfigDict(extra="ignore")

    category: str
    state: CategoryState = "queued"
    version: str | None = None
    phase: TrainingPhase | None = None
    epoch: int | None = None
    max_epochs: int | None = None
    classical_only: bool | None = None
    """True: a short history's version, its classical part only (no networks, so no epochs); None:
    not told (an event leaves what an earlier one said)."""
    train_loss: float | None = None
    val_loss: float | None = None
    train_losses: list[float] = Field(default_factory=list)
    val_losses: list[float | None] = Field(default_factory=list)
    seconds: float | None = None


class JobProgress(BaseModel):
    """Every category of the job, in the job's order."""

    model_config = ConfigDict(extra="ignore")

    categories: list[CategoryProgress]


def write_progress(path: Path, progress: JobProgress) -> Path:
    """Replace the progress file atomically."""
    return write_contract(path, progress)


def read_progress(path: Path) -> JobProgress | None:
    """The last progress written, or None before the job wrote any (or if it is unreadable)."""
    if not path.is_file():
        return None
    try:
        return read_contract(JobProgress, path)
    except ContractError:
        return None
