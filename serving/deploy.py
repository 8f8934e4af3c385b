"""Make an archived version the one TorchServe serves, without failing a single prediction.

Order matters: unregistering a version kills its workers and every request in flight on them, so
the new version is registered with ready workers first, then made the default, then the old
versions get `torchserve.drain_s` (longer than the slowest request) to finish before they are
unregistered. `salescast train --deploy` and the gateway's jobs both call `deploy_archive`.

The result tells what happened, not what was asked: once the new version is the default the deploy
stands, and an old version that would not unregister (after `torchserve.unregister_attempts` tries)
becomes a warning; when the switch did not happen, `DeployError` says so and the previous default
keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from core.atomic import atomic_path
from core.errors import SalescastError
from core.settings import Settings
from core.shard_map import shard_map_of
from serving.archive import ArchiveInfo
from serving.management_client import ManagementClient, ManagementError
from serving.workers import WorkerLoadError, load_workers

logger = logging.getLogger(__name__)


class DeployError(SalescastError):
    """A version could not be made the served one; the previous default keeps serving."""


@dataclass(frozen=True)
class DeployResult:
    """What a deploy changed: the new default, the one it replaced, and the versions removed."""

    category: str
    model_name: str
    version: str
    previous_default: str | None
    unregistered: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def deploy_archive(client: ManagementClient, archive: ArchiveInfo, settings: Settings) -> DeployResult:
    """Register `archive` (workers ready) → make it the default → drain → unregister surplus versions."""
    start = time.monotonic()
    model, version = archive.model_name, archive.version
    registered = await _registered_versions(client, model)
    previous = await client.default_version(model) if registered else None
    if version not in registered:
        await _register(client, archive, settings)
        registered.append(version)
    description = (await client.describe(model, version))[0]
    if description.ready_workers == 0:  # registered before without workers (an archived version)
        try:
            await load_workers(
                client, model, version, settings.archive.workers, settings.torchserve.startup_timeout_s
            )
        except WorkerLoadError as exc:
            raise DeployError(f"{exc}; the previous version keeps serving") from exc
    if previous != version:
        await _warm_up(client, archive, settings)
        await _switch_default(client, archive, previous)
        if previous is not None:
            await asyncio.sleep(settings.torchserve.drain_s)
    unregistered: list[str] = []
    warnings: list[str] = []
    for old in _beyond_keep(registered, version, settings.torchserve.loaded_versions):
        problem = await _unregister_old(client, archive, old, settings)
        if problem is None:
            unregistered.append(old)
            logger.info("version unregistered category=%s version=%s", archive.category, old)
        else:
            warnings.append(problem)
    result = DeployResult(
        category=archive.category,
        model_name=model,
        version=version,
        previous_default=previous,
        unregistered=unregistered,
        warnings=warnings,
        seconds=round(time.monotonic() - start, 3),
    )
    logger.info(
        "deployed category=%s version=%s previous=%s unregistered=%s warnings=%d seconds=%.1f",
        archive.category,
        version,
        previous,
        ",".join(unregistered) or "-",
        len(warnings),
        result.seconds,
    )
    return result


async def _switch_default(client: ManagementClient, archive: ArchiveInfo, previous: str | None) -> None:
    """Make the new version the default; when the call fails, TorchServe's actual default decides.

    A switch that did not happen removes the new version (the previous default keeps serving) and
    raises `DeployError`; one that happened despite an error answer counts as done.
    """
    model, version = archive.model_name, archive.version
    try:
        await client.set_default(model, version)
    except ManagementError as exc:
        try:
            switched = await client.default_version(model) == version
        except ManagementError:
            switched = False
        if not switched:
            await _discard(client, archive)
            raise DeployError(
                f"TorchServe did not make {model} version {version} the default ({exc.message}); "
                f"the previous version ({previous or 'none'}) keeps serving"
            ) from exc
        logger.warning(
            "set-default answered %d but the new version is the default category=%s version=%s",
            exc.status_code,
            archive.category,
            version,
        )
    logger.info("default switched category=%s version=%s previous=%s", archive.category, version, previous)


async def _unregister_old(
    client: ManagementClient, archive: ArchiveInfo, old: str, settings: Settings
) -> str | None:
    """Unregister a replaced version with bounded retries; None when it is gone, else the warning.

    The new version already serves, so a version that stays registered is a leftover to report,
    not a failed deploy.
    """
    attempts = settings.torchserve.unregister_attempts
    error: ManagementError | None = None
    for attempt in range(1, attempts + 1):
        try:
            await client.unregister(archive.model_name, old)
            return None
        except ManagementError as exc:
            if exc.status_code in (400, 404):  # that version (or model) is already gone
                return None
            error = exc
            logger.warning(
                "unregister failed category=%s version=%s attempt=%d/%d: %s",
                archive.category,
                old,
                attempt,
                attempts,
                exc,
            )
        if attempt < attempts:
            await asyncio.sleep(settings.torchserve.unregister_retry_s)
    reason = error.message if error is not None else "no answer"
    tries = "1 try" if attempts == 1 else f"{attempts} tries"
    return (
        f"version {old} is still registered in TorchServe after {tries} to unregister it ({reason}); "
        f"it is no longer the default — remove it with DELETE /models/{archive.model_name}/{old} on "
        "the management API"
    )


async def _discard(client: ManagementClient, archive: ArchiveInfo) -> None:
    """Best-effort removal of a new version that will not serve (a failed load, warm-up or switch)."""
    try:
        await client.unregister(archive.model_name, archive.version)
    except ManagementError as cleanup:
        logger.debug("could not unregister %s %s: %s", archive.model_name, archive.version, cleanup)


async def _registered_versions(client: ManagementClient, model: str) -> list[str]:
    try:
        return [description.version for description in await client.describe_all(model)]
    except ManagementError as exc:
        if exc.status_code == 404:
            return []
        raise


async def _register(client: ManagementClient, archive: ArchiveInfo, settings: Settings) -> None:
    """Register the archive and load its workers (`serving.workers`: polled, never synchronous)."""
    await asyncio.to_thread(_place_on_shard, archive, settings)
    try:
        await client.register(archive.file_name, initial_workers=settings.archive.workers, synchronous=False)
        await load_workers(
            client,
            archive.model_name,
            archive.version,
            settings.archive.workers,
            settings.torchserve.startup_timeout_s,
        )
    except (ManagementError, WorkerLoadError) as exc:
        await _discard(client, archive)  # a failed register can leave it registered with retrying workers
        reason = exc.message if isinstance(exc, ManagementError) else str(exc)
        raise DeployError(
            f"TorchServe could not load {archive.file_name}: {reason} "
            "(the previous version keeps serving; see TorchServe's logs/model_log.log)"
        ) from exc
    logger.info("version registered category=%s version=%s", archive.category, archive.version)


async def _warm_up(client: ManagementClient, archive: ArchiveInfo, settings: Settings) -> None:
    """Send a few predictions to the new version before it takes traffic.

    TorchScript's profiling executor optimizes a model during its first calls; without a warm-up
    those slow calls land on live requests at the moment the default switches, and queued requests
    behind them exceed the gateway's prediction timeout. A version that cannot answer is removed.
    """
    if settings.torchserve.warmup_requests == 0:
        return
    try:
        window_size = (await client.served_info(archive.model_name, archive.version)).window_size
    except ManagementError as exc:
        raise DeployError(
            f"{archive.model_name} version {archive.version} cannot describe itself: {exc}"
        ) from exc
    body = {"sales": [0.0] * window_size}
    shard = shard_map_of(settings).shard_for(archive.model_name)
    url = f"{shard.inference_url.rstrip('/')}/predictions/{archive.model_name}/{archive.version}"
    try:
        async with httpx.AsyncClient(timeout=settings.archive.response_timeout_s) as http:
            for _ in range(settings.torchserve.warmup_requests):
                response = await http.post(url, json=body)
                response.raise_for_status()
    except httpx.HTTPError as exc:
        await _discard(client, archive)
        raise DeployError(
            f"{archive.model_name} version {archive.version} failed its warm-up prediction ({exc}); "
            "the previous version keeps serving"
        ) from exc
    logger.info("warmed up category=%s version=%s", archive.category, archive.version)


def _place_on_shard(archive: ArchiveInfo, settings: Settings) -> None:
    """Copy the archive into its shard's own model store (a shard map entry with `model_store`)
    before that TorchServe is told to register it by file name; atomically, so a shard never opens
    half an archive."""
    store = shard_map_of(settings).shard_for(archive.model_name).model_store
    source = settings.paths.model_store / archive.file_name
    target = None if store is None else store / archive.file_name
    if target is None or target.resolve() == source.resolve() or target.is_file():
        return
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    logger.info("archive copied to its shard's store category=%s path=%s", archive.category, target)


def _beyond_keep(registered: list[str], default: str, keep: int) -> list[str]:
    """Versions to unregister: all but the default and the newest `keep - 1` others."""
    others = sorted(version for version in set(registered) if version != default)
    kept = others[-(keep - 1) :] if keep > 1 else []
    return [version for version in others if version not in kept]
