"""`salescast bench accuracy` with `training.executor: ray` scores every category as the local run does:
the folds' shared networks trained once by the driver, the categories fanned out to the cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.sample_data import write_sample
from salescast.bench.accuracy import run_accuracy
from tests.conftest import make_test_settings
from tests.distributed.compare import differences
from tests.distributed.ray_cluster import RayCluster

pytestmark = pytest.mark.slow

BENCH_TIMEOUT_S = 300  # ~30 s on an idle 2-core machine
CATEGORIES = ["Beauty", "Clothing", "Electronics"]
TIMINGS = {"seconds", "shared_networks_seconds", "data_file"}  # what differs by nature


def test_bench_accuracy_on_ray_matches_local(tmp_path: Path, ray_cluster: RayCluster) -> None:
    data = write_sample(tmp_path / "small.csv", 3, "2024-01-01", 0.4)
    data_section = {"categories": CATEGORIES}
    local = make_test_settings(tmp_path / "local", training={"max_epochs": 1}, data=data_section)
    report = run_accuracy(
        local, data, folds=2, fold_days=7, seeds=[1], statistical=False, progress=lambda _: None
    )
    expected = json.loads(json.dumps(report.to_dict()))  # as the CLI writes it
    executor = {"max_epochs": 1, "executor": "ray", "ray_address": ray_cluster.address}
    ray = make_test_settings(tmp_path / "ray", training=executor, data=data_section)
    config = tmp_path / "ray.yaml"
    config.write_text(yaml.safe_dump(ray.model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "salescast", "--config", str(config), "bench", "accuracy"]
    command += ["--data", str(data), "--folds", "2", "--fold-days", "7", "--seeds", "1", "--no-statistical"]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=BENCH_TIMEOUT_S, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    [written] = out.glob("*.json")
    actual = json.loads(written.read_text(encoding="utf-8"))
    assert list(actual["categories"]) == CATEGORIES
    assert not differences(TIMINGS, expected, actual)
