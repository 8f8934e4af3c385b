"""Which version of each category is served: `champions.json`, beside the archives it names.

MLflow's Model Registry is the record (aliases `champion` and `previous` on each category's
registered model); this manifest is its copy where the serving side can read it without MLflow:
`salescast serve torchserve` makes each champion the default at start-up, archive pruning never
deletes a champion or its previous version, and the object store keeps one beside the archives so
that the bucket alone restores every served version. Written atomically at every alias move.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.files import read_contract, write_contract
from core.file_lock import exclusive_lock

CHAMPIONS_FILE = "champions.json"


class Champion(BaseModel):
    """One category's served version and the one before it (TorchServe versions: the archive's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str = Field(min_length=1)
    version: str = Field(min_length=1, description="the served version (alias `champion`)")
    previous: str | None = Field(default=None, description="the version served before it (alias `previous`)")
    archive_sha256: str | None = Field(default=None, description="SHA-256 of the champion's .mar")
    run_id: str | None = Field(default=None, description="MLflow run that trained the champion")
    registry_version: str | None = Field(default=None, description="its MLflow model version")


class Champions(BaseModel):
    """Model name (category slug) → its champion."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = 1
    models: dict[str, Champion] = Field(default_factory=dict)

    def protected_versions(self, model_name: str) -> set[str]:
        """Versions of `model_name` that must keep their archive: the champion and the previous one."""
        champion = self.models.get(model_name)
        if champion is None:
            return set()
        return {champion.version} | ({champion.previous} if champion.previous else set())


def champions_path(model_store: Path) -> Path:
    return model_store / CHAMPIONS_FILE


def read_champions(model_store: Path) -> Champions:
    """The model store's manifest; empty when there is none yet (`ContractError` when malformed)."""
    path = champions_path(model_store)
    if not path.exists():
        return Champions()
    return read_contract(Champions, path)


def write_champions(model_store: Path, champions: Champions) -> Path:
    return write_contract(champions_path(model_store), champions)


def update_champions(model_store: Path, change: Callable[[Champions], Champions]) -> Champions:
    """Read, change and write the manifest under an exclusive lock: a training job and the gateway
    both move champions, and a read-modify-write without it would lose one of two moves."""
    with exclusive_lock(model_store / f".{CHAMPIONS_FILE}.lock"):
        updated = change(read_champions(model_store))
        write_champions(model_store, updated)
        return updated
