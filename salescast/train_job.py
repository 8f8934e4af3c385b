"""A training job from start to finish in one process: train → deploy decision → archive → deploy.

`salescast train` runs this, on a terminal (its flags make a job spec) or as the gateway's job
subprocess (`--job-spec`, `core.contracts.job_spec`). Everything that touches artifacts, archives and
the model store happens here, so the gateway only writes the job's spec, reads its progress and
results (`core.contracts.job_progress` / `job_result`) and talks to TorchServe over HTTP. A
category's failure at any step is recorded in its result; the version that was served keeps serving
unless the new one is in place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from core.contracts.job_progress import (
    EVERY_TRAINING,
    CategoryProgress,
    CategoryState,
    JobProgress,
    write_progress,
)
from core.contracts.job_result import CategoryResult
from core.contracts.job_spec import JobSpec
from core.errors import SalescastError
from core.settings import DeployPolicy, Settings
from core.slugs import category_slug
from serving.archive import ArchiveInfo, archive_version
from serving.bucket_sync import BucketSync
from serving.deploy import deploy_archive
from serving.deploy_policy import decide_deploy
from serving.management_client import ManagementClient, ManagementError
from serving.model_record import ModelRecord, ModelRecordError
from serving.object_store import ObjectStoreError
from serving.sharded_management import management_client
from training.pipeline import available_categories, train_categories

logger = logging.getLogger(__name__)


@dataclass
class ProgressFile:
    """The job's progress, rewritten atomically at every event (nothing is written without a path)."""

    path: Path | None
    categories: Sequence[str]
    _progress: JobProgress = field(init=False)
    _started: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._progress = JobProgress(categories=[CategoryProgress(category=c) for c in self.categories])
        self._write()

    def on_training_event(self, event: CategoryProgress) -> None:
        """The training pipeline's listener: states, fits, epochs and losses (kept per epoch of the current
        fit for the loss chart: a new fit starts a new curve; an event with the losses of every epoch,
        a fit replayed at once, replaces it). An `EVERY_TRAINING` event (the shared fit's epoch) goes to
        every category still training networks (one with `max_epochs`: not a short history's
        classical-only version), in one write."""
        if event.category == EVERY_TRAINING:
            training = [
                entry.category
                for entry in self._progress.categories
                if entry.state == "training" and entry.max_epochs is not None
            ]
        else:
            training = [event.category]
        for category in training:
            entry = next(entry for entry in self._progress.categories if entry.category == category)
            if event.phase is not None and entry.phase is not None and event.phase != entry.phase:
                entry.train_losses.clear()
                entry.val_losses.clear()
            if event.train_losses:  # a whole fit at once (replayed): its curve replaces the current one
                entry.train_losses[:] = event.train_losses
                entry.val_losses[:] = event.val_losses
            elif event.epoch is not None and event.train_loss is not None:
                entry.train_losses.append(event.train_loss)
                entry.val_losses.append(event.val_loss)
            values = event.model_dump(
                exclude={"category", "state", "seconds", "train_losses", "val_losses"}, exclude_none=True
            )
            self._set(category, event.state, values)
        self._write()

    def update(self, category: str, state: CategoryState, **values: object) -> None:
        """Set `category`'s state and every given value that is not None; then write the file."""
        self._set(category, state, values)
        self._write()

    def _set(self, category: str, state: CategoryState, values: Mapping[str, object]) -> None:
        self._started.setdefault(category, time.monotonic())
        for index, entry in enumerate(self._progress.categories):
            if entry.category == category:
                changes = {key: value for key, value in values.items() if value is not None}
                changes["state"] = state
                changes["seconds"] = round(time.monotonic() - self._started[category], 1)
                self._progress.categories[index] = entry.model_copy(update=changes)

    def _write(self) -> None:
        if self.path is not None:
            write_progress(self.path, self._progress)


def job_settings(spec: JobSpec) -> Settings:
    """The spec's settings with its dataset's columns and date format in `data`."""
    if spec.dataset is None:
        return spec.settings
    columns = spec.dataset.columns
    data = {
        "date_column": columns.date,
        "category_column": columns.category,
        "amount_column": columns.amount,
        "date_format": columns.date_format,
    }
    return spec.settings.with_overrides({"data": data})


def run_job_spec(spec: JobSpec) -> list[CategoryResult]:
    """Run the job `spec` describes; one result per category. The caller writes `spec.result_path`
    (and checks the dataset's SHA-256 first, before the expensive imports)."""
    settings = job_settings(spec)
    dataset = spec.dataset
    data_path = dataset.path if dataset is not None else None
    categories = (
        available_categories(settings, data_path) if spec.categories == "all" else list(spec.categories)
    )
    logger.info("job=%s categories=%s", spec.job_id or "-", ",".join(categories))
    return run_train_job(
        settings,
        categories,
        spec.experiment,
        data_path=data_path,
        compare_versions=spec.compare_versions,
        archive=spec.archive,
        deploy_policy=spec.deploy,
        progress_path=spec.progress_path,
        dataset_id=dataset.dataset_id if dataset is not None else None,
        only_changed=spec.only_changed,
        shared_network=spec.shared_network,
    )


def run_train_job(
    settings: Settings,
    categories: Sequence[str],
    experiment: str,
    *,
    data_path: Path | None = None,
    compare_versions: Mapping[str, str] | None = None,
    archive: bool = True,
    deploy_policy: DeployPolicy | None = None,
    progress_path: Path | None = None,
    dataset_id: str | None = None,
    only_changed: bool = False,
    shared_network: str | None = None,
) -> list[CategoryResult]:
    """Train `categories`, then archive every new version (`archive`) or, with a `deploy_policy`,
    archive and deploy each version the policy accepts. Returns one result per category.
    `only_changed` and `shared_network` are `train_categories`' (a category skipped as `unchanged`
    is neither archived nor deployed again).

    `compare_versions` (category → served version) are scored on the new test days and are what
    the policy compares against; with a policy, a category without one is looked up in TorchServe.
    `dataset_id` names the uploaded dataset `data_path` holds (recorded with each version).
    """
    progress = ProgressFile(progress_path, categories)
    served = dict(compare_versions or {})
    if deploy_policy is not None:
        served = {**asyncio.run(_served_versions(settings, categories)), **served}
    results = train_categories(
        categories,
        experiment,
        settings,
        data_path=data_path,
        compare_versions=served,
        listener=progress.on_training_event,
        dataset_id=dataset_id,
        only_changed=only_changed,
        shared_network=shared_network,
    )
    if deploy_policy is not None:
        results = asyncio.run(_deploy_all(settings, results, deploy_policy, served, progress))
    elif archive:
        results = _archive_all(settings, results)
    for result in results:
        progress.update(result.category, result.status)
    return results


async def _served_versions(settings: Settings, categories: Sequence[str]) -> dict[str, str]:
    """The version TorchServe serves by default for each category that has one (best effort: an
    unreachable TorchServe is reported when the deploy itself fails)."""
    served: dict[str, str] = {}
    async with management_client(settings, timeout_s=10) as client:
        for category in categories:
            try:
                served[category] = await client.default_version(category_slug(category))
            except ManagementError as exc:
                if exc.status_code != 404:
                    logger.warning("cannot read the served version category=%s: %s", category, exc)
    return served


def _archive_all(settings: Settings, results: Sequence[CategoryResult]) -> list[CategoryResult]:
    """Archive every new version, `archive.parallel` at a time: each is a torch-model-archiver
    process of its own (~1 s, mostly its imports), so hundreds of categories one after another
    would leave cores idle. Results keep their order."""
    with ThreadPoolExecutor(max_workers=settings.archive.parallel) as pool:
        archived = list(pool.map(partial(_archive_only, settings), results))
    record, bucket = _model_record(settings), BucketSync(settings)
    return [_pushed(bucket, _recorded(record, result)) for result in archived]


def _model_record(settings: Settings) -> ModelRecord | None:
    """MLflow's registry (the record of versions), or None with a warning when it cannot be opened:
    the archives stand, and the gateway's reconciler records them later."""
    try:
        return ModelRecord(settings)
    except ModelRecordError as exc:
        logger.warning("model registry unavailable; versions are archived but not recorded: %s", exc)
        return None


def _recorded(record: ModelRecord | None, result: CategoryResult) -> CategoryResult:
    """Register an archived version in MLflow's registry (one call after another: one writer) and
    prune the versions beyond `archive.keep_versions` that no alias names; a failure is a warning on
    the result, not a lost version."""
    if record is None or result.archive is None or result.version is None:
        return result
    try:
        model_name = category_slug(result.category)
        record.record_version(result.category, model_name, result.version, run_id=result.mlflow_run_id)
        record.prune(model_name, keep=record.keep_versions)
    except ModelRecordError as exc:
        return result.model_copy(
            update={"warnings": [*result.warnings, f"not recorded in the registry: {exc}"]}
        )
    return result


def _pushed(bucket: BucketSync, result: CategoryResult) -> CategoryResult:
    """Upload an archived version to the bucket (with `storage.uri`); a version that did not reach
    it fails at its archive step and is not deployed (the bucket must be able to restore it)."""
    if not bucket.enabled or result.archive is None or result.version is None:
        return result
    try:
        bucket.push_version(result.category, category_slug(result.category), result.version)
    except (ObjectStoreError, OSError) as exc:
        logger.error("upload failed category=%s: %s", result.category, exc)
        return result.model_copy(
            update={
                "status": "failed",
                "failed_step": "archive",
                "error": f"upload to the bucket failed: {exc}",
            }
        )
    return result


def _archive_only(settings: Settings, result: CategoryResult) -> CategoryResult:
    if result.status != "succeeded":
        return result
    try:
        info = archive_version(settings, result.category, result.version)
    except SalescastError as exc:
        return result.model_copy(
            update={"status": "failed", "failed_step": "archive", "error": f"archiving failed: {exc}"}
        )
    return result.model_copy(update={"archive": info.file_name})


async def _deploy_all(
    settings: Settings,
    results: Sequence[CategoryResult],
    policy: DeployPolicy,
    served: Mapping[str, str],
    progress: ProgressFile,
) -> list[CategoryResult]:
    record = await asyncio.to_thread(_model_record, settings)
    async with management_client(settings, timeout_s=settings.gateway.management_timeout_s) as client:
        return [
            await deploy_trained_version(
                settings, client, result, policy, served.get(result.category), progress, record
            )
            if result.status == "succeeded"
            else result
            for result in results
        ]


async def deploy_trained_version(
    settings: Settings,
    client: ManagementClient,
    result: CategoryResult,
    policy: DeployPolicy,
    served_version: str | None,
    progress: ProgressFile,
    record: ModelRecord | None = None,
) -> CategoryResult:
    """Decide by `policy`, then archive, record and hot-swap one trained version, and make it the
    registry's champion; every failure lands in the result with its step, and the served version
    stays (an archive TorchServe did not take is removed; a champion the registry would not move
    is switched back, since served means champion)."""
    decision = decide_deploy(policy, result.metrics, served_version)
    logger.info(
        "deploy decision category=%s version=%s deploy=%s reason=%s",
        result.category,
        result.version,
        decision.deploy,
        decision.reason,
    )
    if not decision.deploy:
        return result.model_copy(update={"deployed": False, "deploy_reason": decision.reason})
    progress.update(result.category, "deploying")
    kept = f"{decision.reason}; the served version ({served_version or 'none'}) stays"
    try:
        archive = await asyncio.to_thread(archive_version, settings, result.category, result.version)
    except Exception as exc:
        logger.exception("archive failed category=%s", result.category)
        return _failed(result, "archive", exc, kept)
    result = await asyncio.to_thread(
        _recorded, record, result.model_copy(update={"archive": archive.file_name})
    )
    result = await asyncio.to_thread(_pushed, record.bucket if record else BucketSync(settings), result)
    if result.status == "failed":
        return result.model_copy(update={"deployed": False, "deploy_reason": kept})
    try:
        deployed = await deploy_archive(client, archive, settings)
    except Exception as exc:
        logger.exception("deploy failed category=%s", result.category)
        await _drop_unregistered_archive(client, archive)
        return _failed(result, "deploy", exc, kept)
    if record is not None:
        try:
            await asyncio.to_thread(record.promote, result.category, archive.model_name, archive.version)
        except ModelRecordError as exc:
            logger.exception("champion not moved category=%s", result.category)
            await _switch_back(client, archive, deployed.previous_default)
            return _failed(result, "deploy", exc, kept)
    for warning in deployed.warnings:
        logger.warning("deployed with a warning category=%s: %s", result.category, warning)
    return result.model_copy(
        update={
            "deployed": True,
            "deploy_reason": decision.reason,
            "archive": archive.file_name,
            "warnings": [*result.warnings, *deployed.warnings],
        }
    )


async def _switch_back(client: ManagementClient, archive: ArchiveInfo, previous: str | None) -> None:
    """The registry did not take the new champion: TorchServe serves the recorded one again (best
    effort; the gateway's reconciler finishes what this cannot)."""
    if previous is None or previous == archive.version:
        return
    try:
        await client.set_default(archive.model_name, previous)
    except ManagementError as exc:
        logger.warning("could not switch %s back to %s: %s", archive.model_name, previous, exc)


def _failed(result: CategoryResult, step: str, exc: Exception, reason: str) -> CategoryResult:
    return result.model_copy(
        update={
            "status": "failed",
            "failed_step": step,
            "deployed": False,
            "deploy_reason": reason,
            "error": f"{type(exc).__name__}: {exc}",
        }
    )


async def _drop_unregistered_archive(client: ManagementClient, archive: ArchiveInfo) -> None:
    """An archive TorchServe did not take must not be served by the next `serve torchserve`."""
    try:
        registered = bool(await client.describe(archive.model_name, archive.version))
    except ManagementError:
        registered = False  # unknown or unreachable: the served version must stay served after a restart
    if not registered:
        archive.path.unlink(missing_ok=True)
        logger.info("removed unregistered archive %s", archive.path.name)
