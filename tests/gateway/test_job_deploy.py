"""A job's deploy step: failing, the step and reason are recorded and no archive is left behind;
succeeding with a leftover old version, the job says deployed and carries the warning.

Real archiver and a real management client, aimed at a port where no TorchServe listens or at a
real TorchServe that cannot unregister (no `kill` executable, as in the serve image before procps).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gateway.deploy_policy import DeployChoice
from gateway.job_runner import JobRunner
from gateway.job_store import JobStore
from gateway.metrics import GatewayMetrics
from gateway.model_registry import ModelRegistry
from gateway.schemas import CategoryOutcome, Job
from salescast.settings import Settings
from serving.archive import archive_version
from serving.management_client import ManagementClient
from tests.conftest import make_test_settings
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.scripted_artifacts import metrics, write_scripted_version

VERSION = "20250101.000000"
NEXT_VERSION = "20250102.000000"


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


def _deploy(
    tmp_path: Path, outcome: CategoryOutcome, settings: Settings | None = None
) -> tuple[CategoryOutcome, list[str]]:
    settings = settings or make_test_settings(tmp_path)

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


@pytest.mark.slow
@pytest.mark.torchserve
def test_deploy_that_cannot_remove_the_old_version_says_deployed_with_a_warning(
    tmp_path: Path, isolated_torchserve: StartTorchServe, no_kill_on_path: None
) -> None:
    # One try: this TorchServe's first DELETE of a version with a live worker always fails.
    settings = make_test_settings(tmp_path, torchserve={"drain_s": 0.0, "unregister_attempts": 1})
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION, seed=1)
    server = isolated_torchserve(settings, [archive_version(settings, "Beauty", VERSION)])
    write_scripted_version(settings.paths.artifacts, "Beauty", NEXT_VERSION, seed=2)
    outcome = CategoryOutcome(
        category="Beauty",
        state="deploying",
        version=NEXT_VERSION,
        served_version_before=VERSION,
        metrics=metrics("Beauty", NEXT_VERSION, 14),
    )
    result, files = _deploy(tmp_path, outcome, settings)
    assert (result.state, result.deployed, result.failed_step) == ("succeeded", True, None)
    assert result.error is None
    [warning] = result.warnings
    assert f"version {VERSION} is still registered in TorchServe after 1 try" in warning
    assert "Interrupted while cleaning resources" in warning
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": [1.0] * 14}).json()
    assert answer["model_version"] == NEXT_VERSION
    assert f"beauty-{NEXT_VERSION}.mar" in files
