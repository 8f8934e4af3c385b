"""A job's deploy step failing: the step and reason are recorded, no archive is left behind.

Real archiver and a real management client aimed at a port where no TorchServe listens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.deploy_policy import DeployChoice
from gateway.job_runner import JobRunner
from gateway.job_store import JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas import CategoryOutcome, Job
from serving.management_client import ManagementClient
from tests.conftest import make_test_settings
from tests.handlers.scripted_artifacts import metrics, write_scripted_version

VERSION = "20250101.000000"


def _job(policy: DeployChoice = "always") -> Job:
    return Job(
        job_id="j1",
        kind="train",
        status="running",
        categories=["Beauty"],
        experiment_name="e",
        deploy_policy=policy,
        created_at="2026-11-26T10:00:00Z",
        results=[CategoryOutcome(category="Beauty", state="deploying")],
    )


def _deploy(tmp_path: Path, outcome: CategoryOutcome) -> tuple[CategoryOutcome, list[str]]:
    settings = make_test_settings(tmp_path)

    async def run() -> CategoryOutcome:
        async with ManagementClient(settings.torchserve.management_base_url, timeout_s=5) as client:
            runner = JobRunner(
                settings,
                JobStore(settings.paths.jobs_db),
                ModelRegistry(settings, client),
                client,
                GatewayMetrics(),
            )
            return await runner._deploy(_job(), outcome)

    result = asyncio.run(run())
    store = settings.paths.model_store
    return result, sorted(path.name for path in store.iterdir()) if store.exists() else []


def test_deploy_failure_names_the_step_and_leaves_no_archive(tmp_path: Path) -> None:
    write_scripted_version(make_test_settings(tmp_path).paths.artifacts, "Beauty", VERSION)
    outcome = CategoryOutcome(
        category="Beauty", state="deploying", version=VERSION, metrics=metrics("Beauty", VERSION, 14)
    )
    result, files = _deploy(tmp_path, outcome)
    assert result.state == "failed"
    assert result.failed_step == "deploy"
    assert result.deployed is False
    assert "503" in (result.error or "")
    assert "the served version (none) stays" in (result.deploy_reason or "")
    assert not [name for name in files if name.endswith(".mar") or ".tmp" in name], files


def test_archive_failure_names_the_step(tmp_path: Path) -> None:
    outcome = CategoryOutcome(category="Beauty", state="deploying", version=VERSION, metrics=None)
    result, files = _deploy(tmp_path, outcome)  # no artifacts for that version
    assert result.state == "failed"
    assert result.failed_step == "archive"
    assert result.error
    assert not [name for name in files if name.endswith(".mar")]
