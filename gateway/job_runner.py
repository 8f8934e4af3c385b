"""Training jobs: a bounded queue and one worker task that trains out of process, then deploys.

Each job runs `python -m salescast --config <job.yaml> train … --no-archive --result-json <file>`
as an asyncio subprocess (Lightning never loads in the gateway, predictions keep flowing), one job
at a time (parallel runs would lock the SQLite MLflow store). When it ends, every trained category
goes through the deploy policy; a deploy is archive → register (workers ready) → set default →
drain → unregister beyond the kept count (`serving.deploy.deploy_archive`). Every step's outcome is
written to the durable job store as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from gateway.deploy_policy import DeployChoice, decide_deploy
from gateway.errors import ConflictError, QueueFullError
from gateway.job_store import JobStore, utc_now
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas import CategoryOutcome, Job
from salescast.settings import Settings
from serving.archive import ArchiveInfo, archive_version
from serving.deploy import deploy_archive
from serving.management_client import ManagementClient, ManagementError

log = logging.getLogger(__name__)
STOP_REASON = "gateway stopped while the job was running"
_LOG_TAIL_CHARS = 1500


class JobRunner:
    """Owns the queue and the worker task; `submit` is called by the routes."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        registry: ModelRegistry,
        management: ManagementClient,
        metrics: GatewayMetrics,
    ) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._management = management
        self._metrics = metrics
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.gateway.job_queue_size)
        self._active: dict[str, Job] = {}
        self._worker: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._jobs_dir = settings.paths.run / "jobs"

    async def start(self) -> None:
        """Fail jobs a dead gateway left running, re-queue the ones still waiting, start the worker."""
        for job in self._store.fail_interrupted():
            log.warning("job=%s marked failed: %s", job.job_id, job.error)
            self._metrics.jobs.labels(outcome="failed").inc()
        for job in self._store.with_status("queued"):
            try:
                self._queue.put_nowait(job.job_id)
                self._active[job.job_id] = job
            except asyncio.QueueFull:
                self._finish(job, "failed", "training queue was full when the gateway restarted")
        self._worker = asyncio.create_task(self._work(), name="salescast-job-runner")

    async def stop(self) -> None:
        """Stop the worker; a training subprocess still running is killed and its job marked failed."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._kill_process()

    def submit(self, kind: str, categories: Sequence[str], experiment_name: str, deploy: DeployChoice) -> Job:
        """Queue a job; 409 when a category is already queued or running, 429 when the queue is full."""
        busy = sorted(
            {category for job in self._active.values() for category in job.categories} & set(categories)
        )
        if busy:
            raise ConflictError(f"already queued or training: {', '.join(busy)}; wait for that job to finish")
        if self._queue.full():
            raise QueueFullError(
                f"training queue is full ({self._queue.maxsize} jobs waiting); retry later",
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
            results=[CategoryOutcome(category=category, state="queued") for category in categories],
        )
        self._store.save(job)
        self._active[job.job_id] = job
        self._queue.put_nowait(job.job_id)
        log.info(
            "job=%s queued categories=%s experiment=%s", job.job_id, ",".join(categories), experiment_name
        )
        return job

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            job = self._active.get(job_id) or self._store.get(job_id)
            if job is None:
                continue
            try:
                await self._run(job)
            except asyncio.CancelledError:
                self._finish(self._current(job), "failed", STOP_REASON)
                raise
            except Exception as exc:
                log.exception("job=%s crashed", job_id)
                self._finish(self._current(job), "failed", f"job runner error: {type(exc).__name__}: {exc}")

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
            if outcome.state in ("succeeded", "failed")
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
        log.info("job=%s running categories=%s", job.job_id, ",".join(job.categories))

        trained, failure = await self._train(job, served)
        if failure is not None:
            self._finish(job, "failed", failure)
            return
        for index, outcome in enumerate(job.results):
            result = trained.get(outcome.category)
            if result is None:
                outcome = outcome.model_copy(
                    update={"state": "failed", "failed_step": "training", "error": "no result from training"}
                )
            elif result.get("status") != "succeeded":
                outcome = outcome.model_copy(
                    update={
                        "state": "failed",
                        "failed_step": "training",
                        "error": result.get("error") or "training failed",
                        "seconds": result.get("seconds"),
                    }
                )
            else:
                outcome = outcome.model_copy(
                    update={
                        "state": "deploying",
                        "version": result.get("version"),
                        "metrics": result.get("metrics"),
                        "seconds": result.get("seconds"),
                    }
                )
                job = self._replace(job, index, outcome)
                outcome = await self._deploy(job, outcome)
            job = self._replace(job, index, outcome)
        failed = [outcome for outcome in job.results if outcome.state == "failed"]
        if failed:
            summary = "; ".join(
                f"{item.category}: {item.failed_step} failed: {item.error}" for item in failed
            )
            self._finish(job, "failed", summary)
        else:
            self._finish(job, "succeeded", None)

    def _replace(self, job: Job, index: int, outcome: CategoryOutcome) -> Job:
        results = list(job.results)
        results[index] = outcome
        return self._update(job, results=results)

    async def _served_versions(self, categories: Sequence[str]) -> dict[str, str]:
        try:
            models = await self._registry.refresh()
        except Exception as exc:
            log.warning("cannot read served versions before training: %s", exc)
            return {}
        wanted = set(categories)
        return {model.category: model.version for model in models.values() if model.category in wanted}

    async def _train(self, job: Job, served: dict[str, str]) -> tuple[dict[str, dict[str, Any]], str | None]:
        """Run the training subprocess; returns results by category, or a job-level failure message."""
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        config_path = self._jobs_dir / f"{job.job_id}.yaml"
        result_path = self._jobs_dir / f"{job.job_id}.result.json"
        log_path = self._jobs_dir / f"{job.job_id}.log"
        config_path.write_text(yaml.safe_dump(self._settings.model_dump(mode="json")), encoding="utf-8")
        command = training_command(config_path, job.categories, job.experiment_name, result_path, served)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            try:
                returncode = await asyncio.wait_for(
                    self._process.wait(), timeout=self._settings.gateway.job_timeout_s
                )
            except asyncio.TimeoutError:
                await self._kill_process()
                return (
                    {},
                    f"training took longer than {self._settings.gateway.job_timeout_s:g} s and was stopped",
                )
            except asyncio.CancelledError:
                await self._kill_process()
                raise
            finally:
                self._process = None
        try:
            raw = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            tail = _tail(log_path)
            return {}, f"training process exited with status {returncode} without results: {tail}"
        finally:
            result_path.unlink(missing_ok=True)
            config_path.unlink(missing_ok=True)
        results = {str(item.get("category")): item for item in raw if isinstance(item, dict)}
        return results, None

    async def _deploy(self, job: Job, outcome: CategoryOutcome) -> CategoryOutcome:
        decision = decide_deploy(job.deploy_policy, outcome.metrics, outcome.served_version_before)
        log.info(
            "job=%s category=%s version=%s deploy=%s reason=%s",
            job.job_id,
            outcome.category,
            outcome.version,
            decision.deploy,
            decision.reason,
        )
        if not decision.deploy:
            return outcome.model_copy(
                update={"state": "succeeded", "deployed": False, "deploy_reason": decision.reason}
            )

        try:
            archive = await asyncio.to_thread(
                archive_version, self._settings, outcome.category, outcome.version
            )
        except Exception as exc:
            log.exception("job=%s category=%s archive failed", job.job_id, outcome.category)
            return self._deploy_failed(outcome, "archive", exc, decision.reason)
        try:
            result = await deploy_archive(self._management, archive, self._settings)
        except Exception as exc:
            log.exception("job=%s category=%s deploy failed", job.job_id, outcome.category)
            await self._drop_unregistered_archive(archive)
            return self._deploy_failed(outcome, "deploy", exc, decision.reason)
        finally:
            self._registry.invalidate()
        for warning in result.warnings:
            log.warning(
                "job=%s category=%s deployed, with a warning: %s", job.job_id, outcome.category, warning
            )
        return outcome.model_copy(
            update={
                "state": "succeeded",
                "deployed": True,
                "deploy_reason": decision.reason,
                "warnings": list(result.warnings),
            }
        )

    def _deploy_failed(
        self, outcome: CategoryOutcome, step: str, exc: Exception, reason: str
    ) -> CategoryOutcome:
        served = outcome.served_version_before or "none"
        return outcome.model_copy(
            update={
                "state": "failed",
                "deployed": False,
                "failed_step": step,
                "deploy_reason": f"{reason}; the served version ({served}) stays",
                "error": f"{type(exc).__name__}: {exc}",
            }
        )

    async def _drop_unregistered_archive(self, archive: ArchiveInfo) -> None:
        """An archive TorchServe did not take must not be picked up by the next `serve torchserve`."""
        try:
            registered = bool(await self._management.describe(archive.model_name, archive.version))
        except ManagementError:
            registered = False  # unknown or unreachable: the served version must stay served after a restart
        if not registered:
            path = Path(archive.path)
            path.unlink(missing_ok=True)
            log.info("removed unregistered archive %s", path.name)

    async def _kill_process(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def training_command(
    config_path: Path,
    categories: Sequence[str],
    experiment_name: str,
    result_path: Path,
    served: dict[str, str],
) -> list[str]:
    """The `salescast train` command line for one job."""
    command = [sys.executable, "-m", "salescast", "--config", str(config_path), "train"]
    for category in categories:
        command += ["--category", category]
    command += ["--experiment", experiment_name, "--no-archive", "--result-json", str(result_path)]
    for category in categories:
        if category in served:
            command += ["--compare-version", f"{category}={served[category]}"]
    return command


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-5:])[-_LOG_TAIL_CHARS:] or "(empty log)"
