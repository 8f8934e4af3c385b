"""The active-dataset pointer, `<paths.datasets>/active.json`: which dataset history, forecasts and new
training jobs read. Absent means the configured file (`data.path`). Written atomically by the gateway
only after the dataset it names is complete, so a reader never sees a pointer to half a dataset."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.files import read_contract, write_contract

ACTIVE_FILE = "active.json"


class ActiveDataset(BaseModel):
    """The active dataset's id (`default` = the configured `data.path`) and when it was activated."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dataset_id: str = Field(min_length=1)
    activated_at: str


def write_active(root: Path, active: ActiveDataset) -> Path:
    """Replace the pointer atomically."""
    return write_contract(root / ACTIVE_FILE, active)


def read_active(root: Path) -> ActiveDataset | None:
    """The pointer, or None when no dataset was ever activated; `ContractError` when it is corrupt."""
    path = root / ACTIVE_FILE
    if not path.is_file():
        return None
    return read_contract(ActiveDataset, path)
