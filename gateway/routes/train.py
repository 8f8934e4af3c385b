"""POST /api/train and /api/train_all: queue a training job (202), trained out of process, on the active
dataset (the job records its id and SHA-256)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, status

from core.settings import DeployPolicy, Settings
from gateway.datasets import active_dataset_or_503
from gateway.deps import ApiKeyDep, HistoryDep, JobRunnerDep, SettingsDep
from gateway.errors import DataUnavailableError, InputError
from gateway.history import HistoryCache
from gateway.job_runner import TrainingData, training_data
from gateway.routes.responses import errors
from gateway.schemas.train import JobAccepted, TrainAllRequest, TrainRequest

router = APIRouter(tags=["train"], dependencies=[ApiKeyDep])


@router.post(
    "/train", status_code=status.HTTP_202_ACCEPTED, responses=errors(401, 403, 409, 413, 422, 429, 503)
)
async def train(
    body: TrainRequest, runner: JobRunnerDep, history: HistoryDep, settings: SettingsDep
) -> JobAccepted:
    """Train the listed categories; poll `status_url` for progress, metrics and the deploy outcome."""
    data = await _active_data(history)
    categories = await _known(body.categories, history)
    return _submit(
        "train",
        categories,
        body.experiment_name,
        body.deploy,
        runner,
        settings,
        data,
        only_changed=body.only_changed,
        shared_network=body.shared_network,
    )


@router.post(
    "/train_all", status_code=status.HTTP_202_ACCEPTED, responses=errors(401, 403, 409, 413, 422, 429, 503)
)
async def train_all(
    runner: JobRunnerDep, history: HistoryDep, settings: SettingsDep, body: TrainAllRequest | None = None
) -> JobAccepted:
    """Train every category of the config (or of the data when `data.categories` is `auto`); with
    `only_changed` only the new and changed ones, with `shared_network` against saved shared networks."""
    body = body or TrainAllRequest()
    data = await _active_data(history)
    categories = await history.categories()
    return _submit(
        "train_all",
        categories,
        body.experiment_name,
        body.deploy,
        runner,
        settings,
        data,
        only_changed=body.only_changed,
        shared_network=body.shared_network,
    )


async def _active_data(history: HistoryCache) -> TrainingData:
    """The active dataset with its file's SHA-256 (hashed here for the configured file)."""
    source = active_dataset_or_503(history)
    if source.record is not None:
        return training_data(source)
    from core.sales_data import file_sha256

    try:
        sha256 = await asyncio.to_thread(file_sha256, source.path)
    except OSError as exc:
        raise DataUnavailableError(f"sales data file {source.path} cannot be read: {exc.strerror}") from None
    return training_data(source, sha256)


async def _known(requested: Sequence[str], history: HistoryCache) -> list[str]:
    """Canonical names of `requested`; 422 naming the unknown ones and the known ones."""
    known = await history.categories()
    by_fold = {name.casefold(): name for name in known}
    unknown = [name for name in requested if name.casefold() not in by_fold]
    if unknown:
        raise InputError(f"unknown categories: {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return list(dict.fromkeys(by_fold[name.casefold()] for name in requested))


def _submit(
    kind: str,
    categories: list[str],
    experiment_name: str | None,
    deploy: DeployPolicy | None,
    runner: JobRunnerDep,
    settings: Settings,
    data: TrainingData,
    *,
    only_changed: bool = False,
    shared_network: str | None = None,
) -> JobAccepted:
    job = runner.submit(
        kind,
        categories,
        experiment_name or settings.mlflow.experiment,
        deploy or settings.gateway.deploy_policy,
        data,
        only_changed=only_changed,
        shared_network=shared_network,
    )
    return JobAccepted(job_id=job.job_id, status=job.status, status_url=f"/api/jobs/{job.job_id}")
