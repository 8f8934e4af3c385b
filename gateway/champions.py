"""The gateway's side of the record of versions: served means `champion` in MLflow's registry.

A deploy is several steps in two systems (register, set default, move both aliases, unregister), so
a crash or a failure between them leaves TorchServe and the registry disagreeing. The reconciler
brings them back, the registry winning: where TorchServe's default is not the champion, the
champion's archive is registered again if needed and made the default; a category that has no
champion yet (archived before the registry, or its first deploy never finished) adopts the version
TorchServe serves. It runs at start-up and after every training job, never while one runs (a job
moves its own champions). A rollback (`PUT /api/models/{c}/default`) moves the aliases through here.

MLflow is opened lazily, in a thread, on first use: a gateway that never rolls back does not pay
for its import, and a registry that cannot be reached makes reconciliation wait, not the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from core.errors import SalescastError
from core.settings import Settings
from gateway.errors import ModelServerUnavailableError
from gateway.model_registry import ModelRegistry
from serving.archive import archive_file_name
from serving.management_client import ManagementClient, ManagementError
from serving.model_record import ModelRecord, ModelRecordError, RecordedVersion
from serving.workers import WorkerLoadError, load_workers

log = logging.getLogger(__name__)


class RegistryUnavailableError(SalescastError):
    """MLflow's registry could not be reached or refused a change (the gateway answers 503)."""


@dataclass(frozen=True)
class Reconciled:
    """One change the reconciler made: `action` is `default` (TorchServe followed the champion)
    or `adopted` (the registry recorded what TorchServe serves)."""

    model_name: str
    version: str
    action: str


class Champions:
    """Moves and reads champions for the gateway; one per gateway process."""

    def __init__(self, settings: Settings, management: ManagementClient) -> None:
        self._settings = settings
        self._management = management
        self._record: ModelRecord | None = None
        self._lock = asyncio.Lock()
        self._versions: dict[str, list[RecordedVersion]] = {}
        self._read_at = float("-inf")

    async def promote(self, category: str, model_name: str, version: str) -> None:
        """Make `version` the champion (a rollback or a pin); `RegistryUnavailableError` if it cannot."""
        record = await self._open()
        async with self._lock:
            try:
                await asyncio.to_thread(record.promote, category, model_name, version)
            except ModelRecordError as exc:
                raise RegistryUnavailableError(str(exc)) from exc
            self._read_at = float("-inf")

    async def recorded(self) -> Mapping[str, list[RecordedVersion]]:
        """Model name → its recorded versions, read again at most every `gateway.models_refresh_s`.
        Nothing before the registry was first opened (start-up's reconciliation opens it: a model
        listing never waits for MLflow's import), the last answer when it cannot be read (it only
        adds facts to a listing)."""
        record = self._record
        if record is None or time.monotonic() - self._read_at < self._settings.gateway.models_refresh_s:
            return self._versions
        try:
            versions = await asyncio.to_thread(record.versions)
        except ModelRecordError as exc:
            log.warning("registry facts unavailable: %s", exc)
            return self._versions
        grouped: dict[str, list[RecordedVersion]] = {}
        for item in versions:
            grouped.setdefault(item.model_name, []).append(item)
        self._versions, self._read_at = grouped, time.monotonic()
        return grouped

    async def reconcile(self, served: Mapping[str, tuple[str, str]]) -> list[Reconciled]:
        """Bring TorchServe and the registry into agreement for `served` (model name → (category,
        TorchServe's default version)); returns what changed. Errors are logged, not raised."""
        try:
            record = await self._open()
            async with self._lock:
                champions = await asyncio.to_thread(record.champions)
                changes = [
                    change
                    for model_name, (category, default) in sorted(served.items())
                    if (
                        change := await self._agree(
                            record, model_name, category, default, champions.get(model_name)
                        )
                    )
                ]
        except (RegistryUnavailableError, ModelRecordError, ManagementError, WorkerLoadError) as exc:
            log.warning("cannot reconcile TorchServe with the registry: %s", exc)
            return []
        for change in changes:
            log.info(
                "reconciled model=%s version=%s action=%s", change.model_name, change.version, change.action
            )
        self._read_at = float("-inf")
        return changes

    async def _agree(
        self,
        record: ModelRecord,
        model_name: str,
        category: str,
        default: str,
        champion: RecordedVersion | None,
    ) -> Reconciled | None:
        if champion is None:
            await asyncio.to_thread(record.promote, category, model_name, default)
            return Reconciled(model_name, default, "adopted")
        if champion.version == default:
            return None
        archive = self._settings.paths.model_store / archive_file_name(model_name, champion.version)
        try:
            await self._management.describe(model_name, champion.version)
        except ManagementError as exc:
            if exc.status_code != 404:
                raise
            if not archive.is_file():
                log.error(
                    "champion of %s (%s) has no archive in %s; TorchServe keeps serving %s",
                    model_name,
                    champion.version,
                    archive.parent,
                    default,
                )
                return None
            await self._management.register(archive.name, initial_workers=0, synchronous=False)
            if self._settings.torchserve.max_loaded_models is None:  # under a budget it loads on demand
                await load_workers(
                    self._management,
                    model_name,
                    champion.version,
                    self._settings.archive.workers,
                    self._settings.torchserve.startup_timeout_s,
                )
        await self._management.set_default(model_name, champion.version)
        # the champions manifest follows too (a crash may have left it behind the aliases)
        await asyncio.to_thread(record.promote, category, model_name, champion.version)
        return Reconciled(model_name, champion.version, "default")

    async def _open(self) -> ModelRecord:
        if self._record is None:
            try:
                self._record = await asyncio.to_thread(ModelRecord, self._settings)
            except ModelRecordError as exc:
                raise RegistryUnavailableError(str(exc)) from exc
        return self._record


async def reconcile_served(
    champions: Champions, registry: ModelRegistry, model_names: Collection[str] | None = None
) -> list[Reconciled]:
    """Reconcile what TorchServe serves now (of `model_names`, or every model) with the registry."""
    if model_names is None:
        registry.invalidate()
    for name in model_names or ():
        registry.invalidate(name)
    try:
        models = await registry.refresh()
    except ModelServerUnavailableError as exc:
        log.warning("cannot reconcile with the registry: %s", exc)
        return []
    wanted = set(models) if model_names is None else set(model_names)
    served = {name: (model.category, model.version) for name, model in models.items() if name in wanted}
    return await champions.reconcile(served)
