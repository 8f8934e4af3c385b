"""Training jobs: a bounded queue in the job store and a worker task that runs each job as a
`salescast train` process.

The job's spec (`core.contracts.job_spec`: categories, dataset, deploy policy, settings, output files)
is written to a file and the process is `salescast train --job-spec FILE`, nothing more. The process
does the whole job — train, decide by the deploy policy, archive, hot-swap into
TorchServe (`salescast.train_job`) — so Lightning never loads in the gateway and the gateway never
opens an artifact or an archive. One job runs at a time (parallel runs would lock the SQLite MLflow
store): the job store is the queue, and whichever gateway holds the one-job lock (`gateway.job_lock`:
a file lock, or a Redis key shared by replicas) takes its oldest queued job. A cancel request travels
through the store too: the runner sees it at its next poll and stops the process. While it runs,
its progress file (`core.contracts.job_progress`) is mirrored into the durable job store, so
`GET /api/jobs/{id}` shows each category's state, epoch and losses; when it ends, its result file
(`core.contracts.job_result`) becomes the job's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from core import supervisor
from core.contracts.dataset import DatasetColumns
from core.contracts.files import ContractError
from core.contracts.job_progress import CategoryProgress, read_progress
from core.contracts.job_result import CategoryResult, read_results
from core.contracts.job_spec import JobDataset, JobSpec, write_job_spec
from core.datasets import DatasetSource, DatasetStore, UnknownDatasetError
from core.settings import DeployPolicy, Settings
from core.slugs import category_slug
from gateway.champions import Champions, reconcile_served
from gateway.errors import ConflictError, NotFoundError, QueueFullError
from gateway.forecast_cache import ForecastCache
from gateway.job_lock import FileJobLock, JobLock
from gateway.job_store import JobRecords, utc_now
from gateway.loaded_models import LoadedModels
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas.jobs import FINAL_STATES, CategoryOutcome, Job
from serving.management_client import ManagementError

log = logging.getLogger(__name__)
STOP_REASON = "gateway stopped while the job was running"
CANCEL_REASON = "cancelled by a request"
LOCK_LOST_REASON = "the one-job lock was lost (Redis unreachable longer than redis.lock_ttl_s); stopped"
_LOG_TAIL_CHARS = 1500


@dataclass(frozen=True)
class TrainingData:
    """The dataset a job learns from, chosen when the job is submitted (activating another dataset
    afterwards does not change a queued job: the job keeps its dataset id)."""

    dataset_id: str
    name: str
    sha256: str
    path: Path
    date_column: str
    category_column: str
    amount_column: str
    date_format: str | None

    def job_dataset(self) -> JobDataset:
        """This dataset as a job spec names it: file, id, SHA-256 (when known) and column mapping."""
        return JobDataset(
            path=self.path,
            dataset_id=self.dataset_id,
            sha256=self.sha256 or None,
            columns=DatasetColumns(
                date=self.date_column,
                category=self.category_column,
                amount=self.amount_column,
                date_format=self.date_format,
            ),
        )


def training_data(source: DatasetSource, sha256: str | None = None) -> TrainingData:
    """The dataset a job names for `source` (`sha256`: computed by the caller when known)."""
    data = source.data
    return TrainingData(
        dataset_id=source.dataset_id,
        name=source.name,
        sha256=sha256 or (source.record.sha256 if source.record else ""),
        path=source.path,
        date_column=data.date_column,
        category_column=data.category_column,
        amount_column=data.amount_column,
        date_format=data.date_format,
    )


class JobRunner:
    """Owns the worker task that runs queued jobs; `submit` and `cancel` are called by the routes."""

    def __init__(
        self,
        settings: Settings,
        store: JobRecords,
        registry: ModelRegistry,
        metrics: GatewayMetrics,
        datasets: DatasetStore,
        loaded: LoadedModels | None = None,
        champions: Champions | None = None,
        lock: JobLock | None = None,
        forecasts: ForecastCache | None = None,
    ) -> None:
        self._settings = settings
        self._loaded = loaded
        self._champions = champions
        self._jobs_released = asyncio.Event()
        self._jobs_released.set()
        self._deploying: str | None = None  # the category the running job is swapping in
        self._datasets = datasets
        self._store = store
        self._registry = registry
        self._metrics = metrics
        self._lock = lock or FileJobLock(
            settings.paths.jobs_db.with_name(f"{settings.paths.jobs_db.name}.lock")
        )
        self._forecasts = forecasts
        self._wake = asyncio.Event()  # a job was filed here: look now, not at the next poll
        self._active: dict[str, Job] = {}  # the job this process runs
        self._worker: asyncio.Task[None] | None = None
        self._process: supervisor.ManagedProcess | None = None
        self._jobs_dir = settings.paths.run / "jobs"

    async def start(self) -> None:
        """Fail jobs a dead gateway left running (unless another gateway holds the lock: then they are
        its own), start the worker; queued jobs wait in the store."""
        if await self._lock.acquire():
            try:
                self._fail_orphans()
            finally:
                await self._lock.release()
        self._worker = asyncio.create_task(self._work(), name="salescast-job-runner")

    async def stop(self) -> None:
        """Stop the worker; a training subprocess still running is killed and its job marked failed."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._stop_process()
        await self._lock.release()
        self._lock.close()

    def submit(
        self,
        kind: str,
        categories: Sequence[str],
        experiment_name: str,
        deploy: DeployPolicy,
        dataset: TrainingData | None = None,
        *,
        only_changed: bool = False,
        shared_network: str | None = None,
    ) -> Job:
        """Queue a job on `dataset` (default: the configured file); 409 when a category is already
        queued or running, 429 when the queue is full. `only_changed` and `shared_network` travel in
        the job's spec (`core.contracts.job_spec`)."""
        waiting = self._store.with_status("queued", "running")
        busy = sorted({category for job in waiting for category in job.categories} & set(categories))
        if busy:
            raise ConflictError(f"already queued or training: {', '.join(busy)}; wait for that job to finish")
        queue_size = self._settings.gateway.job_queue_size
        if sum(job.status == "queued" for job in waiting) >= queue_size:
            raise QueueFullError(
                f"training queue is full ({queue_size} jobs waiting); retry later",
                retry_after_s=self._settings.gateway.retry_after_s,
            )
        job = Job(
            job_id=uuid.uuid4().hex,
            kind="train_all" if kind == "train_all" else "train",
            status="queued",
            categories=list(categories),
            experiment_name=experiment_name,
            deploy_policy=deploy,
            created_at=utc_now(),
            dataset_id=dataset.dataset_id if dataset else None,
            dataset_name=dataset.name if dataset else None,
            dataset_sha256=dataset.sha256 if dataset else None,
            only_changed=only_changed,
            shared_network=shared_network,
            results=[CategoryOutcome(category=category, state="queued") for category in categories],
        )
        self._store.save(job)
        self._wake.set()
        log.info(
            "job=%s queued categories=%s experiment=%s", job.job_id, ",".join(categories), experiment_name
        )
        return job

    def hold_jobs(self) -> None:
        """Start no job until `release_jobs` (start-up's reconciliation: a job moves champions too)."""
        self._jobs_released.clear()

    def release_jobs(self) -> None:
        self._jobs_released.set()

    def cancel(self, job_id: str) -> Job:
        """Ask for `job_id` to stop, through the store: a queued job fails at once, a running one when
        its runner (this gateway or another) next polls. 404 unknown, 409 already finished."""
        job = self._store.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id!r}")
        if job.status not in ("queued", "running"):
            raise ConflictError(f"job {job_id} already {job.status} at {job.finished_at}; nothing to cancel")
        self._store.request_cancel(job_id)
        job = self._store.get(job_id) or job
        if job.status == "queued":  # a runner taking it meanwhile sees the request before it starts
            self._finish(job, "failed", CANCEL_REASON)
        log.info("job=%s cancel requested", job_id)
        return self._store.get(job_id) or job

    async def _work(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._jobs_released.wait(), self._settings.gateway.management_timeout_s)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.gateway.job_poll_s)
            self._wake.clear()
            try:
                if self._store.with_status("queued") and await self._lock.acquire():
                    try:
                        await self._run_queued()
                    finally:
                        await self._lock.release()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # e.g. the shared store did not answer: try again at the next poll
                log.error("job runner: %s: %s", type(exc).__name__, exc)

    async def _run_queued(self) -> None:
        """Holding the lock: fail what a dead runner left running, then run queued jobs, oldest first."""
        self._fail_orphans()
        while not self._lock.lost and (queued := self._store.with_status("queued")):
            job = queued[0]
            try:
                await self._run(job)
            except asyncio.CancelledError:
                self._finish(self._current(job), "failed", STOP_REASON)
                raise
            except Exception as exc:
                log.exception("job=%s crashed", job.job_id)
                self._finish(self._current(job), "failed", f"job runner error: {type(exc).__name__}: {exc}")

    def _fail_orphans(self) -> None:
        for job in self._store.fail_interrupted():
            log.warning("job=%s marked failed: %s", job.job_id, job.error)
            self._metrics.jobs.labels(outcome="failed").inc()

    def _current(self, job: Job) -> Job:
        return self._active.get(job.job_id) or self._store.get(job.job_id) or job

    def _update(self, job: Job, **changes: Any) -> Job:
        job = job.model_copy(update=changes)
        self._store.save(job)
        if job.status in ("queued", "running"):
            self._active[job.job_id] = job
        return job

    def _finish(self, job: Job, status: str, error: str | None) -> None:
        results = [
            outcome
            if outcome.state in FINAL_STATES
            else outcome.model_copy(update={"state": "failed", "error": outcome.error or error})
            for outcome in job.results
        ]
        self._update(job, status=status, error=error, finished_at=utc_now(), results=results)
        self._active.pop(job.job_id, None)
        self._metrics.jobs.labels(outcome=status).inc()
        log.info("job=%s %s%s", job.job_id, status, f": {error}" if error else "")

    async def _run(self, job: Job) -> None:
        served = await self._served_versions(job.categories)
        outcomes = [
            outcome.model_copy(
                update={"state": "training", "served_version_before": served.get(outcome.category)}
            )
            for outcome in job.results
        ]
        job = self._update(job, status="running", started_at=utc_now(), results=outcomes)
        if self._store.cancel_requested(job.job_id):  # asked while it was being taken
            self._finish(job, "failed", CANCEL_REASON)
            return
        log.info("job=%s running categories=%s", job.job_id, ",".join(job.categories))
        try:
            results, failure = await self._train(job, served)
        finally:
            self._registry.invalidate()  # the job may have switched default versions
            if self._forecasts is not None and job.deploy_policy != "never":
                await self._forecasts.drop([category_slug(category) for category in job.categories])
        job = self._current(job)
        if failure is not None:
            self._finish(job, "failed", failure)
            return
        job = self._update(job, results=[_outcome(o, results.get(o.category)) for o in job.results])
        failed = [outcome for outcome in job.results if outcome.state == "failed"]
        if failed:
            summary = "; ".join(
                f"{item.category}: {item.failed_step} failed: {item.error}" for item in failed
            )
            self._finish(job, "failed", summary)
        else:
            self._finish(job, "succeeded", None)

    async def _served_versions(self, categories: Sequence[str]) -> dict[str, str]:
        try:
            models = await self._registry.refresh()
        except Exception as exc:
            log.warning("cannot read served versions before training: %s", exc)
            return {}
        wanted = set(categories)
        return {model.category: model.version for model in models.values() if model.category in wanted}

    async def _train(self, job: Job, served: dict[str, str]) -> tuple[dict[str, CategoryResult], str | None]:
        """Run the job's process, mirroring its progress; returns results by category, or a job-level
        failure message."""
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        spec_path = self._jobs_dir / f"{job.job_id}.spec.json"
        result_path = self._jobs_dir / f"{job.job_id}.result.json"
        progress_path = self._jobs_dir / f"{job.job_id}.progress.json"
        log_path = self._jobs_dir / f"{job.job_id}.log"
        try:
            dataset = (
                training_data(self._datasets.source(job.dataset_id), job.dataset_sha256)
                if job.dataset_id is not None
                else None
            )
        except UnknownDatasetError as exc:
            return {}, f"the job's dataset cannot be read: {exc}"
        spec = job_spec(job, self._settings, dataset, served, progress_path, result_path)
        write_job_spec(spec_path, spec)
        command = training_command(spec_path)
        gateway = self._settings.gateway
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            self._process = await asyncio.to_thread(
                partial(supervisor.start_process, nice=gateway.job_nice),
                f"job-{job.job_id}",
                command,
                log_path,
                env,
            )
            deadline = time.monotonic() + gateway.job_timeout_s
            async with self._deploy_headroom(job):
                while (returncode := self._process.exited()) is None:
                    await self._adopt_deployed(self._mirror_progress(job.job_id, progress_path))
                    if time.monotonic() > deadline:
                        await self._stop_process()
                        return {}, f"training took longer than {gateway.job_timeout_s:g} s and was stopped"
                    if stop := self._stop_reason(job.job_id):
                        await self._stop_process()
                        return {}, stop
                    await asyncio.sleep(gateway.job_poll_s)
                self._mirror_progress(job.job_id, progress_path)
                await self._adopt_deployed(None)
                await self._reconcile(job.categories)
                if self._champions is not None and job.deploy_policy != "never":
                    await reconcile_served(self._champions, self._registry, _model_names(job.categories))
        except asyncio.CancelledError:
            await self._stop_process()
            raise
        finally:
            self._process = None
            spec_path.unlink(missing_ok=True)
            progress_path.unlink(missing_ok=True)
        try:
            results = read_results(result_path)
        except ContractError:
            return {}, f"training process exited with status {returncode} without results: {_tail(log_path)}"
        finally:
            result_path.unlink(missing_ok=True)
        return {result.category: result for result in results}, None

    def _stop_reason(self, job_id: str) -> str | None:
        """Why the running job must stop now: a cancel request in the store, or the lock lost."""
        if self._store.cancel_requested(job_id):
            return CANCEL_REASON
        return LOCK_LOST_REASON if self._lock.lost else None

    def _mirror_progress(self, job_id: str, path: Path) -> str | None:
        """Copy the job process's progress into the stored job (only when something changed); returns
        the category being deployed now, if any."""
        progress = read_progress(path)
        job = self._active.get(job_id)
        if progress is None or job is None:
            return None
        by_category = {entry.category: entry for entry in progress.categories}
        outcomes = [_live(outcome, by_category.get(outcome.category)) for outcome in job.results]
        if outcomes != job.results:
            self._update(job, results=outcomes)
        return next((entry.category for entry in progress.categories if entry.state == "deploying"), None)

    def _deploy_headroom(self, job: Job) -> contextlib.AbstractAsyncContextManager[None]:
        """While a job that may deploy runs, the loaded set keeps room for its swaps."""
        if self._loaded is None or job.deploy_policy == "never":
            return contextlib.nullcontext()
        return self._loaded.deploy_headroom()

    async def _adopt_deployed(self, deploying: str | None) -> None:
        """The job deploys one category at a time: once it moves on, the loaded set adopts the last."""
        done, self._deploying = self._deploying, deploying
        if done is not None and done != deploying:
            await self._reconcile([done])

    async def _reconcile(self, categories: Sequence[str]) -> None:
        """Read what TorchServe holds for these categories into the loaded set (deploys ran elsewhere)."""
        if self._loaded is None:
            return
        try:
            await self._loaded.reconcile([category_slug(category) for category in categories])
        except ManagementError as exc:
            log.warning("cannot read the loaded versions after a deploy: %s", exc)

    async def _stop_process(self) -> None:
        process = self._process
        if process is not None and process.exited() is None:
            await asyncio.to_thread(process.stop, self._settings.gateway.job_stop_timeout_s)


def _live(outcome: CategoryOutcome, progress: CategoryProgress | None) -> CategoryOutcome:
    """The outcome while the job runs: state, version, epoch and losses from the progress file."""
    if progress is None or progress.state in ("queued", "succeeded", "failed"):
        return outcome
    return outcome.model_copy(
        update={
            "state": progress.state,
            "version": progress.version or outcome.version,
            "phase": progress.phase,
            "epoch": progress.epoch,
            "max_epochs": progress.max_epochs,
            "classical_only": progress.classical_only or outcome.classical_only,
            "train_loss": progress.train_loss,
            "val_loss": progress.val_loss,
            "train_losses": list(progress.train_losses),
            "val_losses": list(progress.val_losses),
            "seconds": progress.seconds,
        }
    )


def _outcome(outcome: CategoryOutcome, result: CategoryResult | None) -> CategoryOutcome:
    """The final outcome of one category from the job process's result."""
    if result is None:
        return outcome.model_copy(
            update={"state": "failed", "failed_step": "training", "error": "no result from training"}
        )
    served = outcome.served_version_before or "none"
    reason = result.deploy_reason
    if result.failed_step in ("archive", "deploy") and reason and "stays" not in reason:
        reason = f"{reason}; the served version ({served}) stays"
    return outcome.model_copy(
        update={
            "state": result.status,
            "version": result.version,
            "metrics": result.metrics.model_dump(mode="json") if result.metrics else None,
            "seconds": result.seconds,
            "epoch": result.epochs,
            "deployed": result.deployed,
            "deploy_reason": reason,
            "failed_step": result.failed_step if result.status == "failed" else None,
            "error": result.error or ("training failed" if result.status == "failed" else None),
            "warnings": list(result.warnings),
            "mlflow_experiment_id": result.mlflow_experiment_id,
            "mlflow_run_id": result.mlflow_run_id,
        }
    )


def job_spec(
    job: Job,
    settings: Settings,
    dataset: TrainingData | None,
    served: dict[str, str],
    progress_path: Path,
    result_path: Path,
) -> JobSpec:
    """The spec of `job`: archive and deploy by the job's policy, each served version scored on the new
    test days, the gateway's settings without its API key (the training process never calls the
    gateway), and where the process writes progress and results."""
    return JobSpec(
        job_id=job.job_id,
        categories=list(job.categories),
        experiment=job.experiment_name,
        dataset=dataset.job_dataset() if dataset is not None else None,
        archive=True,
        deploy=job.deploy_policy,
        compare_versions={category: served[category] for category in job.categories if category in served},
        only_changed=job.only_changed,
        shared_network=job.shared_network,
        settings=settings.with_overrides({"gateway": {"api_key": None}}),
        progress_path=progress_path,
        result_path=result_path,
    )


def training_command(spec_path: Path) -> list[str]:
    """The `salescast train` command line for one job: its spec file, nothing else."""
    return [sys.executable, "-m", "salescast", "train", "--job-spec", str(spec_path)]


def _model_names(categories: Sequence[str]) -> list[str] | None:
    """The jobs' categories as model names (None: every model, for a job over no named category)."""
    return [category_slug(category) for category in categories] or None


def _tail(path: Path) -> str:
    lines = [line for line in supervisor.tail(path, lines=50).splitlines() if line.strip()]
    return " | ".join(lines[-5:])[-_LOG_TAIL_CHARS:] or "(empty log)"
