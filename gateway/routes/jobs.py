"""GET /api/jobs and /api/jobs/{job_id}: durable training-job records; POST …/{job_id}/cancel cancels."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from gateway.deps import ApiKeyDep, JobRunnerDep, JobStoreDep, SettingsDep
from gateway.errors import NotFoundError
from gateway.routes.responses import errors
from gateway.schemas.jobs import Job, JobList

router = APIRouter(tags=["jobs"], dependencies=[ApiKeyDep])


@router.get("/jobs", responses=errors(401, 403, 422, 503))
async def list_jobs(
    store: JobStoreDep,
    settings: SettingsDep,
    limit: int | None = Query(default=None, ge=1, le=1000, description="Default `gateway.recent_jobs`."),
) -> JobList:
    """Recent jobs, newest first."""
    return JobList(jobs=store.recent(limit or settings.gateway.recent_jobs))


@router.get("/jobs/{job_id}", responses=errors(401, 403, 404, 422, 503))
async def get_job(job_id: str, store: JobStoreDep) -> Job:
    """Status, per-category state, metrics, new version, deploy outcome and error of one job."""
    job = store.get(job_id)
    if job is None:
        raise NotFoundError(f"no job with id {job_id!r}")
    return job


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(401, 403, 404, 409, 422, 503),
)
async def cancel_job(job_id: str, runner: JobRunnerDep) -> Job:
    """Cancel a queued or running job: a queued one ends `failed` ("cancelled by a request") at once; a
    running one is marked `cancel_requested`, and the gateway running it (this one or another replica
    sharing the job store) stops its training process at its next poll; poll the job to see it end.
    409 for a job that already finished."""
    return runner.cancel(job_id)
