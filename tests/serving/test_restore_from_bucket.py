"""Restore onto an empty machine: the bucket alone brings back every served version.

A real SeaweedFS S3 server (auth on), a real MLflow store and a real TorchServe: versions are
recorded, pushed and made champions (one of them by a rollback, so the served version is not the
newest); then the model store, the artifacts folder and the MLflow database are deleted, and
`salescast models pull` plus `serve torchserve`'s start give the same predictions back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from core.contracts.champions import read_champions
from core.settings import Settings
from serving.archive import archive_version
from serving.bucket_sync import BucketSync
from serving.model_record import ModelRecord
from serving.object_store import ObjectStoreError
from serving.torchserve_process import TorchServeProcess, restore_if_empty
from tests.conftest import REPO_ROOT, make_test_settings
from tests.fixtures.seaweedfs import SeaweedS3
from tests.fixtures.torchserve import StartTorchServe
from tests.handlers.scripted_artifacts import write_scripted_version

pytestmark = [pytest.mark.slow, pytest.mark.torchserve]
V1, V2 = "20240101.000000", "20240201.000000"
WINDOW = [float(90 + 3 * i) for i in range(14)]


def predictions(server: TorchServeProcess) -> dict[str, tuple[str, float]]:
    answers = {}
    for model in ("beauty", "clothing"):
        answer = httpx.post(f"{server.inference_url}/predictions/{model}", json={"sales": WINDOW}, timeout=30)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        answers[model] = (body["model_version"], body["prediction"])
    return answers


def settings_for(tmp_path: Path, seaweedfs: SeaweedS3) -> Settings:
    storage = seaweedfs.storage().model_dump(mode="json")
    return make_test_settings(tmp_path, storage=storage)


def test_an_empty_machine_gets_every_champion_back_from_the_bucket(
    tmp_path: Path,
    seaweedfs: SeaweedS3,
    isolated_torchserve: StartTorchServe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in seaweedfs.admin.environ().items():
        monkeypatch.setenv(name, value)
    settings = settings_for(tmp_path, seaweedfs)
    record = ModelRecord(settings)
    bucket = BucketSync(settings)
    for category, version, seed in (("Beauty", V1, 1), ("Beauty", V2, 2), ("Clothing", V1, 3)):
        write_scripted_version(settings.paths.artifacts, category, version, seed=seed)
        info = archive_version(settings, category, version)
        record.record_version(category, info.model_name, version)
        bucket.push_version(category, info.model_name, version)
    record.promote("Clothing", "clothing", V1)
    record.promote("Beauty", "beauty", V2)
    record.promote("Beauty", "beauty", V1)  # a rollback: the served Beauty is not the newest

    server = isolated_torchserve(settings)  # no archives given: each category's champion
    before = predictions(server)
    assert {model: version for model, (version, _) in before.items()} == {"beauty": V1, "clothing": V1}
    server.stop()

    for lost in (settings.paths.model_store, settings.paths.artifacts, tmp_path / "mlruns"):
        shutil.rmtree(lost)
    config = tmp_path / "restore.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    pulled = subprocess.run(
        [sys.executable, "-m", "salescast", "--config", str(config), "models", "pull"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert f"Beauty: version {V1} (previous {V2}) as model beauty" in pulled.stdout
    secret = seaweedfs.admin.secret_key
    assert secret not in pulled.stdout + pulled.stderr
    champions = read_champions(settings.paths.model_store).models
    assert (champions["beauty"].version, champions["beauty"].previous) == (V1, V2)
    assert sorted(path.name for path in settings.paths.model_store.glob("*.mar")) == [
        f"beauty-{V1}.mar",
        f"beauty-{V2}.mar",
        f"clothing-{V1}.mar",
    ]

    again = isolated_torchserve(settings)
    assert predictions(again) == before


def test_serve_restores_an_empty_model_store_and_refuses_a_bad_bucket(
    tmp_path: Path, seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in seaweedfs.admin.environ().items():
        monkeypatch.setenv(name, value)
    settings = settings_for(tmp_path, seaweedfs)
    write_scripted_version(settings.paths.artifacts, "Beauty", V1, seed=1)
    info = archive_version(settings, "Beauty", V1)
    ModelRecord(settings).promote("Beauty", info.model_name, V1)  # pushes the champion it lacks

    shutil.rmtree(settings.paths.model_store)
    restore_if_empty(settings)
    assert [path.name for path in settings.paths.model_store.glob("*.mar")] == [f"beauty-{V1}.mar"]

    missing = settings.with_overrides({"storage": {"uri": "s3://no-such-bucket-here/x"}})
    with pytest.raises(ObjectStoreError, match="no-such-bucket-here") as raised:
        restore_if_empty(missing)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(ObjectStoreError) as refused:
        restore_if_empty(settings)
    assert "wrong-secret-value" not in str(refused.value) and "wrong-secret-value" not in str(raised.value)


def test_the_gateway_refuses_to_start_on_a_missing_bucket(
    tmp_path: Path, seaweedfs: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_test_settings(
        tmp_path, storage=seaweedfs.storage(bucket="no-such-bucket-here").model_dump(mode="json")
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    started = subprocess.run(
        [sys.executable, "-m", "salescast", "--config", str(config), "serve", "gateway"],
        cwd=REPO_ROOT,
        env={**os.environ, **seaweedfs.admin.environ()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode != 0
    assert "no-such-bucket-here" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr
    assert seaweedfs.admin.secret_key not in started.stdout + started.stderr
