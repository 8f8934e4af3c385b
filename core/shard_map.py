"""The shard map: which TorchServe instance serves which category (`torchserve.shard_map`).

One file, read by the gateway, the training jobs it starts and the Kubernetes manifests alike
(deploy/kubernetes/base/config/shards.yaml is one). A category's shard is `pins[model]` when
pinned, else the shard whose sha256("<shard name>/<model name>") is highest (rendezvous hashing):
every reader computes the same answer without a lookup table, and adding a shard moves only the
~1/N categories that now hash to it. Without a map there is one shard, from the
`torchserve.inference_url` / `management_url` settings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import SalescastError

if TYPE_CHECKING:
    from core.settings import Settings

FORMAT_VERSION = 1


class ShardMapError(SalescastError):
    """The shard map file is missing, unreadable or inconsistent."""


class Shard(BaseModel):
    """One TorchServe instance (or, on Kubernetes, one Service in front of a shard's pods)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    inference_url: str = Field(min_length=1)
    management_url: str = Field(min_length=1)
    pods_service: str | None = None  # Kubernetes: the headless Service naming each pod of the shard
    pods: list[str] = Field(default_factory=list)  # each pod's management URL, where no DNS lists them
    model_store: Path | None = None  # the shard's own model store, when it is not the shared one

    @field_validator("name", mode="before")
    @classmethod
    def _name_as_text(cls, value: object) -> object:
        """`name: 0` unquoted in YAML is the shard "0"."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ShardMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: Literal[1]
    routing: Literal["rendezvous-sha256"] = "rendezvous-sha256"
    shards: list[Shard] = Field(min_length=1)
    pins: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ShardMap:
        names = [shard.name for shard in self.shards]
        if len(set(names)) != len(names):
            raise ValueError(f"shard names must be unique, got {names}")
        unknown = sorted({shard for shard in self.pins.values() if shard not in names})
        if unknown:
            raise ValueError(f"pins name shards that are not listed: {unknown} (shards: {names})")
        return self

    def shard_for(self, model_name: str) -> Shard:
        """The shard serving `model_name` (a category's slug, as TorchServe names it)."""
        pinned = self.pins.get(model_name)
        if pinned is not None:
            return next(shard for shard in self.shards if shard.name == pinned)
        return max(self.shards, key=lambda shard: _score(shard.name, model_name))

    def split(self, model_names: list[str]) -> dict[str, list[str]]:
        """Shard name → the model names it serves (every shard listed, possibly with none)."""
        split: dict[str, list[str]] = {shard.name: [] for shard in self.shards}
        for name in model_names:
            split[self.shard_for(name).name].append(name)
        return split


def _score(shard_name: str, model_name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{shard_name}/{model_name}".encode()).digest()[:8], "big")


def single_shard(inference_url: str, management_url: str) -> ShardMap:
    """The map of a deployment without one: every category on the one TorchServe."""
    return ShardMap(
        format_version=FORMAT_VERSION,
        shards=[Shard(name="0", inference_url=inference_url, management_url=management_url)],
    )


def read_shard_map(path: Path) -> ShardMap:
    """Parse and check the map at `path`; `ShardMapError` says what is wrong and where."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ShardMapError(f"cannot read the shard map {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ShardMapError(f"the shard map {path} is not valid YAML: {exc}") from exc
    try:
        return ShardMap.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ShardMapError(f"the shard map {path} is invalid: {problems}") from exc


def shard_map_of(settings: Settings) -> ShardMap:
    """The configured map (`torchserve.shard_map`), or the one shard of the TorchServe URLs."""
    if settings.torchserve.shard_map is None:
        serving = settings.torchserve
        return single_shard(serving.inference_base_url, serving.management_base_url)
    return read_shard_map(settings.torchserve.shard_map)
