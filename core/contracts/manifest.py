"""The version manifest, `norm_stats.json`: what a trained version is and how to feed its model.

Written by training beside `model.pt`, packed into the `.mar`, read by the handler (its own reader,
kept in step by tests/contracts) and by every other part through `read_manifest`. The file name is
kept from the first releases so archives already in a model store keep loading.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.contracts.files import read_contract, write_contract
from core.settings import FillPolicy

MANIFEST_FILE = "norm_stats.json"
VERSION_PATTERN = r"^\d{8}\.\d{6}$"


class VersionManifest(BaseModel):
    """One trained version of one category.

    `mean`/`std` are the training segment's normalization (`std` > 0: a flat segment stores 1.0);
    the model reads the last `window_size` daily totals, oldest first. `train_*` is the period the
    served model learned from, `last_date` the last day of the data it saw, and `data_file` /
    `data_sha256` name that data exactly (`dataset_id`: the uploaded dataset it came from, if any).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str = Field(min_length=1)
    slug: str = Field(min_length=1)
    version: str = Field(pattern=VERSION_PATTERN)
    window_size: int = Field(ge=1, strict=True)
    mean: float = Field(strict=True)
    std: float = Field(gt=0.0, strict=True)
    fill_policy: FillPolicy
    train_start: date
    train_end: date
    last_date: date
    data_file: str
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    dataset_id: str | None = None

    @field_validator("mean", "std")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def write_manifest(folder: Path, manifest: VersionManifest) -> Path:
    """Write `folder/norm_stats.json` atomically."""
    return write_contract(folder / MANIFEST_FILE, manifest)


def read_manifest(folder: Path) -> VersionManifest:
    """`folder/norm_stats.json` as a `VersionManifest`; `ContractError` naming the file and the fields."""
    return read_contract(VersionManifest, folder / MANIFEST_FILE)
