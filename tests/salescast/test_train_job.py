"""A training job's deploy step failing: the step and reason are recorded, no archive is left behind,
and the progress file says where each category stands.

Real archiver and a real management client aimed at a port where no TorchServe listens.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from core.contracts.champions import read_champions
from core.contracts.job_progress import EVERY_TRAINING, CategoryProgress, read_progress, write_progress
from core.contracts.job_result import CategoryResult
from core.settings import DeployPolicy, Settings
from salescast import train_job
from salescast.train_job import ProgressFile, deploy_trained_version
from serving.archive import archive_version
from serving.management_client import ManagementClient
from serving.model_record import ModelRecord
from tests.conftest import make_test_settings
from tests.fixtures.seaweedfs import SeaweedS3
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.scripted_artifacts import metrics, write_scripted_version

VERSION = "20250101.000000"
NEXT_VERSION = "20250102.000000"


def _deploy(
    tmp_path: Path,
    result: CategoryResult,
    policy: DeployPolicy = "always",
    settings: Settings | None = None,
    served: str | None = None,
) -> tuple[CategoryResult, list[str]]:
    settings = settings or make_test_settings(tmp_path)
    progress = ProgressFile(tmp_path / "progress.json", ["Beauty"])

    async def run() -> CategoryResult:
        async with ManagementClient(settings.torchserve.management_base_url, timeout_s=30) as client:
            return await deploy_trained_version(settings, client, result, policy, served, progress)

    deployed = asyncio.run(run())
    store = settings.paths.model_store
    return deployed, sorted(path.name for path in store.iterdir()) if store.exists() else []


def _trained(with_metrics: bool = True) -> CategoryResult:
    return CategoryResult(
        category="Beauty",
        status="succeeded",
        version=VERSION,
        metrics=metrics("Beauty", VERSION, 14) if with_metrics else None,
    )


def test_deploy_failure_names_the_step_and_leaves_no_archive(tmp_path: Path) -> None:
    write_scripted_version(make_test_settings(tmp_path).paths.artifacts, "Beauty", VERSION)
    result, files = _deploy(tmp_path, _trained())
    assert result.status == "failed"
    assert result.failed_step == "deploy"
    assert result.deployed is False
    assert "503" in (result.error or "")
    assert "the served version (none) stays" in (result.deploy_reason or "")
    assert not [name for name in files if name.endswith(".mar") or ".tmp" in name], files
    progress = read_progress(tmp_path / "progress.json")
    assert progress is not None and progress.categories[0].state == "deploying"


def test_archive_failure_names_the_step(tmp_path: Path) -> None:
    result, files = _deploy(tmp_path, _trained(with_metrics=False))  # no artifacts for that version
    assert result.status == "failed"
    assert result.failed_step == "archive"
    assert result.error
    assert not [name for name in files if name.endswith(".mar")]


def test_a_version_the_policy_rejects_is_neither_archived_nor_deployed(tmp_path: Path) -> None:
    write_scripted_version(make_test_settings(tmp_path).paths.artifacts, "Beauty", VERSION)
    result, files = _deploy(tmp_path, _trained(), policy="never")
    assert result.status == "succeeded"
    assert result.deployed is False
    assert result.deploy_reason is not None and "deploy policy is `never`" in result.deploy_reason
    assert files == []


def test_progress_file_follows_the_training_events(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    progress = ProgressFile(path, ["Beauty", "Clothing"])
    first = read_progress(path)
    assert first is not None and [c.state for c in first.categories] == ["queued", "queued"]
    progress.on_training_event(CategoryProgress(category="Beauty", state="training", max_epochs=60))
    progress.on_training_event(
        CategoryProgress(
            category="Beauty",
            state="training",
            version=VERSION,
            phase="serving",
            epoch=3,
            max_epochs=60,
            train_loss=0.5,
            val_loss=0.25,
        )
    )
    now = read_progress(path)
    assert now is not None
    beauty, clothing = now.categories
    assert (beauty.state, beauty.phase, beauty.epoch, beauty.max_epochs, beauty.val_loss) == (
        "training",
        "serving",
        3,
        60,
        0.25,
    )
    assert beauty.version == VERSION and beauty.seconds is not None
    assert clothing.state == "queued"
    progress.on_training_event(CategoryProgress(category="Beauty", state="succeeded", version=VERSION))
    done = read_progress(path)
    assert done is not None and done.categories[0].state == "succeeded" and done.categories[0].epoch == 3


@pytest.mark.slow
@pytest.mark.torchserve
def test_deploy_that_cannot_remove_the_old_version_says_deployed_with_a_warning(
    tmp_path: Path, isolated_torchserve: StartTorchServe, no_kill_on_path: None
) -> None:
    # One try: this TorchServe's first DELETE of a version with a live worker always fails.
    settings = make_test_settings(
        tmp_path, torchserve={"drain_s": 0.0, "unregister_attempts": 1, "loaded_versions": 1}
    )
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION, seed=1)
    server = isolated_torchserve(settings, [archive_version(settings, "Beauty", VERSION)])
    write_scripted_version(settings.paths.artifacts, "Beauty", NEXT_VERSION, seed=2)
    trained = CategoryResult(
        category="Beauty",
        status="succeeded",
        version=NEXT_VERSION,
        metrics=metrics("Beauty", NEXT_VERSION, 14),
    )
    result, files = _deploy(tmp_path, trained, settings=settings, served=VERSION)
    assert (result.status, result.deployed, result.failed_step) == ("succeeded", True, None)
    assert result.error is None
    [warning] = result.warnings
    assert f"version {VERSION} is still registered in TorchServe after 1 try" in warning
    assert "Interrupted while cleaning resources" in warning
    answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": [1.0] * 14}).json()
    assert answer["model_version"] == NEXT_VERSION
    assert f"beauty-{NEXT_VERSION}.mar" in files


def _deploy_recorded(
    settings: Settings, result: CategoryResult, record: ModelRecord, served: str | None
) -> CategoryResult:
    progress = ProgressFile(settings.paths.run / "progress.json", ["Beauty"])

    async def run() -> CategoryResult:
        async with ManagementClient(settings.torchserve.management_base_url, timeout_s=30) as client:
            return await deploy_trained_version(settings, client, result, "always", served, progress, record)

    return asyncio.run(run())


def _served_first_and_trained_next(settings: Settings) -> tuple[ModelRecord, CategoryResult]:
    """VERSION is the registry's champion; NEXT_VERSION is trained, as a job's result."""
    record = ModelRecord(settings)
    record.promote("Beauty", "beauty", VERSION)
    write_scripted_version(settings.paths.artifacts, "Beauty", NEXT_VERSION, seed=2)
    trained = CategoryResult(
        category="Beauty",
        status="succeeded",
        version=NEXT_VERSION,
        metrics=metrics("Beauty", NEXT_VERSION, 14),
    )
    return record, trained


def test_a_failed_deploy_records_the_version_and_leaves_the_champion(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)  # no TorchServe listens: the deploy step fails
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION, seed=1)
    archive_version(settings, "Beauty", VERSION)
    record, trained = _served_first_and_trained_next(settings)
    result = _deploy_recorded(settings, trained, record, served=VERSION)
    assert (result.status, result.failed_step) == ("failed", "deploy")
    recorded = {item.version: item.aliases for item in record.versions("beauty")}
    assert recorded == {VERSION: ("champion",), NEXT_VERSION: ()}
    assert read_champions(settings.paths.model_store).models["beauty"].version == VERSION


@pytest.mark.slow
@pytest.mark.torchserve
def test_a_deploy_moves_the_champion_and_a_registry_that_refuses_it_switches_back(
    tmp_path: Path, isolated_torchserve: StartTorchServe
) -> None:
    settings = make_test_settings(tmp_path, torchserve={"drain_s": 0.0})
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION, seed=1)
    server = isolated_torchserve(settings, [archive_version(settings, "Beauty", VERSION)])
    record, trained = _served_first_and_trained_next(settings)

    def served() -> str:
        answer = httpx.post(f"{server.inference_url}/predictions/beauty", json={"sales": [1.0] * 14})
        version: str = answer.json()["model_version"]
        return version

    # a registry that cannot be reached: TorchServe took the version, but served means champion
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = ModelRecord(
        settings.with_overrides({"mlflow": {"tracking_uri": f"http://127.0.0.1:{port}", "http_retries": 0}})
    )
    refused = _deploy_recorded(settings, trained, unreachable, served=VERSION)
    assert (refused.status, refused.failed_step) == ("failed", "deploy"), refused
    assert "not recorded in the registry" in " ".join(refused.warnings)
    assert served() == VERSION

    deployed = _deploy_recorded(settings, trained, record, served=VERSION)
    assert (deployed.status, deployed.deployed) == ("succeeded", True), deployed
    assert served() == NEXT_VERSION
    recorded = {item.version: item.aliases for item in record.versions("beauty")}
    assert recorded == {NEXT_VERSION: ("champion",), VERSION: ("previous",)}
    champion = read_champions(settings.paths.model_store).models["beauty"]
    assert (champion.version, champion.previous) == (NEXT_VERSION, VERSION)


def test_a_failed_upload_is_not_deployed_and_leaves_the_champion(
    tmp_path: Path, seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With storage.uri a version must reach the bucket before it may serve: a refused key fails
    its archive step (nothing is deployed, TorchServe is never asked) and the champion stays."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.admin.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    settings = make_test_settings(tmp_path, storage=seaweedfs.storage().model_dump(mode="json"))
    write_scripted_version(settings.paths.artifacts, "Beauty", VERSION, seed=1)
    archive_version(settings, "Beauty", VERSION)
    record, trained = _served_first_and_trained_next(settings)
    result = _deploy_recorded(settings, trained, record, served=VERSION)
    assert (result.status, result.failed_step, result.deployed) == ("failed", "archive", False), result
    assert "upload to the bucket failed" in (result.error or "")
    assert "not-the-secret" not in (result.error or "")
    assert read_champions(settings.paths.model_store).models["beauty"].version == VERSION


def test_a_shared_epoch_reaches_every_category_still_training_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The networks a run trains once for all categories report each epoch once (`EVERY_TRAINING`): it
    shows on every category still training networks, not on a finished or queued one nor on one that
    trains none (no `max_epochs`: a short history's classical-only version), and costs one write."""
    path = tmp_path / "progress.json"
    progress = ProgressFile(path, ["Beauty", "Clothing", "Launched", "Toys"])
    progress.on_training_event(CategoryProgress(category="Beauty", state="training", max_epochs=60))
    progress.on_training_event(CategoryProgress(category="Clothing", state="training", max_epochs=60))
    progress.on_training_event(CategoryProgress(category="Launched", state="training"))
    writes: list[Path] = []
    real = write_progress
    monkeypatch.setattr(train_job, "write_progress", lambda *args: writes.append(real(*args)))
    for epoch, loss in ((1, 0.9), (2, 0.7)):
        progress.on_training_event(
            CategoryProgress(
                category=EVERY_TRAINING,
                state="training",
                phase="evaluation",
                epoch=epoch,
                max_epochs=60,
                train_loss=loss,
                val_loss=loss / 2,
            )
        )
    assert len(writes) == 2
    now = read_progress(path)
    assert now is not None
    beauty, clothing, launched, toys = now.categories
    for entry in (beauty, clothing):
        assert (entry.state, entry.phase, entry.epoch, entry.val_loss) == ("training", "evaluation", 2, 0.35)
        assert entry.train_losses == [0.9, 0.7]
    assert (launched.state, launched.epoch, launched.train_losses) == ("training", None, [])
    assert (toys.state, toys.epoch, toys.train_losses) == ("queued", None, [])


def test_a_fit_replayed_at_once_replaces_the_curve_in_one_write(tmp_path: Path) -> None:
    """A category takes the shared fit's epochs as its own in one event carrying every epoch's losses
    (one write, not one per epoch): the curve is that fit's, not appended to what was shown live."""
    path = tmp_path / "progress.json"
    progress = ProgressFile(path, ["Beauty"])
    progress.on_training_event(CategoryProgress(category="Beauty", state="training", max_epochs=60))
    for epoch in (1, 2):
        progress.on_training_event(
            CategoryProgress(
                category=EVERY_TRAINING, state="training", phase="serving", epoch=epoch, train_loss=1.0
            )
        )
    progress.on_training_event(
        CategoryProgress(
            category="Beauty",
            state="training",
            version=VERSION,
            phase="serving",
            epoch=3,
            train_loss=0.5,
            val_loss=None,
            train_losses=[0.9, 0.7, 0.5],
            val_losses=[0.4, 0.3, None],
        )
    )
    now = read_progress(path)
    assert now is not None
    [beauty] = now.categories
    assert (beauty.epoch, beauty.train_losses, beauty.val_losses) == (3, [0.9, 0.7, 0.5], [0.4, 0.3, None])
