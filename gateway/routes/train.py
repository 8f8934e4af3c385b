"""POST /api/train and /api/train_all: queue a training job (202), trained out of process."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, status

from core.settings import DeployPolicy, Settings
from gateway.deps import ApiKeyDep, HistoryDep, JobRunnerDep, SettingsDep
from gateway.errors import InputError
from gateway.history import HistoryCache
from gateway.routes.responses import errors
from gateway.schemas import JobAccepted, TrainAllRequest, TrainRequest

router = APIRouter(tags=["train"], dependencies=[ApiKeyDep])


@router.post(
    "/train", status_code=status.HTTP_202_ACCEPTED, responses=errors(401, 403, 409, 413, 422, 429, 503)
)
async def train(
    body: TrainRequest, runner: JobRunnerDep, history: HistoryDep, settings: SettingsDep
) -> JobAccepted:
    """Train the listed categories; poll `status_url` for progress, metrics and the deploy outcome."""
    categories = await _known(body.categories, history)
    return _submit("train", categories, body.experiment_name, body.deploy, runner, settings)


@router.post(
    "/train_all", status_code=status.HTTP_202_ACCEPTED, responses=errors(401, 403, 409, 413, 422, 429, 503)
)
async def train_all(
    runner: JobRunnerDep, history: HistoryDep, settings: SettingsDep, body: TrainAllRequest | None = None
) -> JobAccepted:
    """Train every category of the config (or of the data when `data.categories` is `auto`)."""
    body = body or TrainAllRequest()
    categories = await history.categories()
    return _submit("train_all", categories, body.experiment_name, body.deploy, runner, settings)


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
) -> JobAccepted:
    job = runner.submit(
        kind,
        categories,
        experiment_name or settings.mlflow.experiment,
        deploy or settings.gateway.deploy_policy,
    )
    return JobAccepted(job_id=job.job_id, status=job.status, status_url=f"/api/jobs/{job.job_id}")
