"""MLflow's Model Registry as the record of versions: which exist, which is served, which before it.

One registered model per category (`mlflow.registry_prefix` + the category's slug); every archived
version becomes a model version tagged with its TorchServe version, archive SHA-256 and category,
its source the MLflow run's artifacts. The served version carries the alias `champion`, the one
served before it `previous` (MLflow's stages are deprecated). Every alias move is copied into the
model store's `champions.json` (`core.contracts.champions`) under a lock, for the parts that read
what is served without MLflow (TorchServe's start-up, archive pruning, the object store).

MLflow is imported lazily (TorchServe's image has none); every failure is a `ModelRecordError`
naming the tracking URI, never its credentials.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from core.contracts.champions import Champion, Champions, update_champions
from core.errors import SalescastError
from core.hashing import file_sha256
from core.settings import Settings
from serving.archive import archive_file_name
from serving.bucket_sync import BucketSync
from serving.object_store import ObjectStoreError

logger = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS = "previous"
TAG_VERSION = "salescast.version"
TAG_CATEGORY = "salescast.category"
TAG_SHA256 = "salescast.archive_sha256"
ARCHIVE_SOURCE_SCHEME = "salescast-archive"  # source of a version recorded from its archive alone
_PAGE = 1000
T = TypeVar("T")


class ModelRecordError(SalescastError):
    """MLflow's Model Registry could not be read or refused a change."""


@dataclass(frozen=True)
class RecordedVersion:
    """One model version as the registry holds it."""

    model_name: str
    version: str  # TorchServe's (the archive's) version
    registered_model: str
    registry_version: str
    run_id: str | None
    aliases: tuple[str, ...]
    archive_sha256: str | None


class ModelRecord:
    """The registry of one tracking URI, plus the model store's champions manifest."""

    def __init__(self, settings: Settings) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.mlflow.http_retries))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.mlflow.http_timeout_s))
        self._settings = settings
        self.uri = settings.mlflow.tracking_uri
        self.prefix = settings.mlflow.registry_prefix
        self.keep_versions = settings.archive.keep_versions
        self.bucket = BucketSync(settings)
        self.model_store: Path = settings.paths.model_store
        with self._step("connecting"):
            if self.uri.startswith("sqlite:///"):
                Path(self.uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def registered_name(self, model_name: str) -> str:
        return f"{self.prefix}{model_name}"

    def record_version(
        self, category: str, model_name: str, version: str, *, run_id: str | None = None
    ) -> RecordedVersion:
        """Register `version` with its archive's SHA-256 (idempotent: an already recorded version is
        returned as it is)."""
        name = self.registered_name(model_name)
        existing = self._find(model_name, version)
        if existing is not None:
            return existing
        with self._step(f"registering {name} version {version}"):
            self._ensure_registered_model(name, category)
            source = self._source(run_id, model_name, version)
            archive = self.model_store / archive_file_name(model_name, version)
            archive_sha256 = file_sha256(archive) if archive.is_file() else None
            tags = {TAG_VERSION: version, TAG_CATEGORY: category}
            if archive_sha256:
                tags[TAG_SHA256] = archive_sha256
            created = self._client.create_model_version(
                name, source=source, run_id=run_id, tags=tags, await_creation_for=0
            )
        logger.info("recorded category=%s version=%s registry_version=%s", category, version, created.version)
        return RecordedVersion(model_name, version, name, str(created.version), run_id, (), archive_sha256)

    def promote(self, category: str, model_name: str, version: str) -> Champion:
        """Make `version` the champion and the champion before it `previous`; copy both into
        champions.json. A version that was never recorded (archived before the registry) is first."""
        name = self.registered_name(model_name)
        recorded = self._find(model_name, version) or self.record_version(category, model_name, version)
        before = self.champion(model_name)
        with self._step(f"moving the aliases of {name} to version {version}"):
            if before is not None and before.version != version:
                self._client.set_registered_model_alias(name, PREVIOUS, before.registry_version)
            self._client.set_registered_model_alias(name, CHAMPION, recorded.registry_version)
        previous_version = before.version if before is not None and before.version != version else None
        if previous_version is None:
            previous_version = self._aliased(model_name, PREVIOUS)
        champion = Champion(
            category=category,
            version=version,
            previous=previous_version,
            archive_sha256=recorded.archive_sha256,
            run_id=recorded.run_id,
            registry_version=recorded.registry_version,
        )
        updated = update_champions(self.model_store, _with(model_name, champion))
        logger.info("champion category=%s version=%s previous=%s", category, version, previous_version)
        self.mirror(updated)
        return champion

    def mirror(self, champions: Champions | None = None) -> None:
        """Copy champions.json to the bucket (with `storage.uri`); a failure is logged, not raised:
        the served version stands, and the next alias move or reconciliation writes it again."""
        try:
            self.bucket.push_champions(champions)
        except (ObjectStoreError, OSError) as exc:
            logger.error("champions not copied to %s: %s", self.bucket.where, exc)

    def champion(self, model_name: str) -> RecordedVersion | None:
        return self._by_alias(model_name, CHAMPION)

    def champions(self) -> dict[str, RecordedVersion]:
        """Model name → its champion, for every category that has one."""
        return {recorded.model_name: recorded for recorded in self.versions() if CHAMPION in recorded.aliases}

    def versions(self, model_name: str | None = None) -> list[RecordedVersion]:
        """Every recorded version (of one model, or all salescast models) with its aliases, paged
        through (MLflow's version search leaves the aliases out: they come from the models)."""
        pattern = self.registered_name(model_name) if model_name else f"{self.prefix}%"
        condition = f"name = '{pattern}'" if model_name else f"name LIKE '{pattern}'"
        found: list[Any] = []
        aliases: dict[tuple[str, str], list[str]] = {}
        with self._step("listing model versions"):
            for model in _paged(
                lambda token: self._client.search_registered_models(
                    condition, max_results=_PAGE, page_token=token
                )
            ):
                for alias, number in (model.aliases or {}).items():
                    aliases.setdefault((str(model.name), str(number)), []).append(str(alias))
            found = _paged(
                lambda token: self._client.search_model_versions(
                    condition, max_results=_PAGE, page_token=token
                )
            )
        recorded = [
            self._recorded(item, aliases.get((str(item.name), str(item.version)), [])) for item in found
        ]
        return [item for item in recorded if item.version]

    def prune(self, model_name: str, keep: int) -> list[str]:
        """Delete the oldest model versions beyond `keep`, never one with an alias; returns the
        TorchServe versions removed."""
        recorded = sorted(self.versions(model_name), key=lambda item: int(item.registry_version))
        removable = [item for item in recorded[: max(0, len(recorded) - keep)] if not item.aliases]
        name = self.registered_name(model_name)
        with self._step(f"pruning {name}"):
            for item in removable:
                self._client.delete_model_version(name, item.registry_version)
        return [item.version for item in removable]

    def _find(self, model_name: str, version: str) -> RecordedVersion | None:
        name = self.registered_name(model_name)
        with self._step(f"looking up {name} version {version}"):
            page = self._client.search_model_versions(
                f"name = '{name}' AND tags.`{TAG_VERSION}` = '{version}'", max_results=1
            )
        return self._recorded(page[0]) if page else None

    def _by_alias(self, model_name: str, alias: str) -> RecordedVersion | None:
        from mlflow.exceptions import MlflowException

        name = self.registered_name(model_name)
        try:
            found = self._client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise ModelRecordError(
                f"MLflow's registry at {self.uri} failed to read {name}@{alias}: {exc}"
            ) from exc
        return self._recorded(found)

    def _aliased(self, model_name: str, alias: str) -> str | None:
        found = self._by_alias(model_name, alias)
        return found.version if found is not None else None

    def _ensure_registered_model(self, name: str, category: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._client.create_registered_model(
                name, tags={TAG_CATEGORY: category}, description=f"salescast forecaster of {category!r}"
            )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def _source(self, run_id: str | None, model_name: str, version: str) -> str:
        """The run's artifacts; for a version without a run (archived before the registry) a name,
        not a path: a tracking server refuses a local path as the source unless a run contains it."""
        if run_id is not None:
            return str(self._client.get_run(run_id).info.artifact_uri)
        return f"{ARCHIVE_SOURCE_SCHEME}:/{archive_file_name(model_name, version)}"

    def _recorded(self, item: Any, aliases: list[str] | None = None) -> RecordedVersion:
        tags = dict(item.tags or {})
        return RecordedVersion(
            model_name=str(item.name)[len(self.prefix) :],
            version=str(tags.get(TAG_VERSION, "")),
            registered_model=str(item.name),
            registry_version=str(item.version),
            run_id=item.run_id or None,
            aliases=tuple(sorted(aliases if aliases is not None else (getattr(item, "aliases", None) or ()))),
            archive_sha256=tags.get(TAG_SHA256),
        )

    @contextmanager
    def _step(self, action: str) -> Iterator[None]:
        try:
            yield
        except ModelRecordError:
            raise
        except Exception as exc:
            raise ModelRecordError(f"MLflow's registry at {self.uri} failed while {action}: {exc}") from exc


def _paged(search: Callable[[str | None], Any]) -> list[Any]:
    """Every item of an MLflow search, following its page tokens."""
    items: list[Any] = []
    token: str | None = None
    while True:
        page = search(token)
        items.extend(page)
        token = page.token
        if not token:
            return items


def _with(model_name: str, champion: Champion) -> Callable[[Champions], Champions]:
    def change(champions: Champions) -> Champions:
        return champions.model_copy(update={"models": {**champions.models, model_name: champion}})

    return change
