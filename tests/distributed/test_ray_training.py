"""`training.executor: ray` on a real two-node Ray cluster: the sample trained through it matches the
local executor's run on the same data and seed (versions, run ids, shared-network ids and times differ
by nature), its tasks ran on both nodes, and MLflow holds each category's run, written by the driver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch
import yaml
from mlflow.tracking import MlflowClient

from core.artifacts import MODEL_FILE
from core.contracts.job_result import CategoryResult, read_results
from core.contracts.manifest import read_manifest
from core.contracts.metrics import read_metrics
from core.settings import Settings
from handlers.forecast_steps import load_model
from tests.conftest import make_test_settings
from tests.distributed.compare import ABS_TOL, REL_TOL, differences
from tests.distributed.ray_cluster import RayCluster
from tests.fixtures.training import SAMPLE_CATEGORIES
from training.pipeline import train_categories

pytestmark = pytest.mark.slow

# what differs by nature: each run's own version and shared-network id (a hash of its start time) and folder
RUN_OWN = {"version", "id", "trained_at", "weights"}
# MLflow params that say how the run was executed, not what it learned
TRAIN_TIMEOUT_S = 300  # the Ray run takes ~30 s on an idle 2-core machine
EXECUTION_PARAMS = {"version", "training.executor", "training.ray_address", "training.network_workers"}


class Runs(NamedTuple):
    local: dict[str, CategoryResult]
    ray: dict[str, CategoryResult]
    mlflow: MlflowClient


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, test_settings: Settings, ray_cluster: RayCluster) -> Runs:
    """The sample's three categories trained once locally (in this process) and once through the
    cluster by `salescast train --all` (a child process is the Ray driver: see `ray_cluster`), each
    with its own artifacts, both tracked in one MLflow store."""
    root = tmp_path_factory.mktemp("ray-training")
    store = test_settings.mlflow
    mlflow = {"tracking_uri": store.tracking_uri, "artifact_location": store.artifact_location}
    local = make_test_settings(root / "local", mlflow=mlflow)
    ray = make_test_settings(
        root / "ray", mlflow=mlflow, training={"executor": "ray", "ray_address": ray_cluster.address}
    )
    local_results = train_categories(SAMPLE_CATEGORIES, "executor-local", local)
    config = root / "ray.yaml"
    config.write_text(yaml.safe_dump(ray.model_dump(mode="json")), encoding="utf-8")
    result_path = root / "ray-results.json"
    command = [sys.executable, "-m", "salescast", "--config", str(config), "train", "--all", "--no-archive"]
    command += ["--experiment", "executor-ray", "--result-json", str(result_path)]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    return Runs(
        {result.category: result for result in local_results},
        {result.category: result for result in read_results(result_path)},
        MlflowClient(store.tracking_uri),
    )


def test_every_category_succeeds_with_both_executors(runs: Runs) -> None:
    assert set(runs.local) == set(runs.ray) == set(SAMPLE_CATEGORIES)
    for category in SAMPLE_CATEGORIES:
        assert runs.local[category].status == "succeeded", runs.local[category].error
        assert runs.ray[category].status == "succeeded", runs.ray[category].error
        assert runs.ray[category].epochs == runs.local[category].epochs


def test_ray_versions_match_local_ones(runs: Runs) -> None:
    """Metrics, backtest, intervals and normalization agree; the exported model.pt forecasts alike."""
    for category in SAMPLE_CATEGORIES:
        local = Path(str(runs.local[category].artifact_dir))
        ray = Path(str(runs.ray[category].artifact_dir))
        assert sorted(path.name for path in local.iterdir()) == sorted(path.name for path in ray.iterdir())
        local_metrics, ray_metrics = read_metrics(local), read_metrics(ray)
        assert not differences(
            RUN_OWN, local_metrics.model_dump(mode="json"), ray_metrics.model_dump(mode="json")
        )
        assert local_metrics.test["model"].rmse == pytest.approx(ray_metrics.test["model"].rmse, rel=REL_TOL)
        local_manifest, ray_manifest = read_manifest(local), read_manifest(ray)
        assert not differences(
            RUN_OWN, local_manifest.model_dump(mode="json"), ray_manifest.model_dump(mode="json")
        )
        rng = np.random.default_rng(0)
        z = torch.from_numpy(rng.normal(size=(8, local_manifest.window_size))).float()
        level, unit = torch.full((8,), 100.0), torch.full((8,), 20.0)
        with torch.no_grad():
            expected = load_model(local / MODEL_FILE)(z, level, unit)
            actual = load_model(ray / MODEL_FILE)(z, level, unit)
        torch.testing.assert_close(actual, expected, rtol=REL_TOL, atol=ABS_TOL)


def test_tasks_ran_on_both_nodes(runs: Runs, ray_cluster: RayCluster) -> None:
    """Each run names the node its task ran on; the three categories used both nodes of the cluster."""
    nodes = {
        category: runs.mlflow.get_run(str(result.mlflow_run_id)).data.tags.get("salescast.ray_node")
        for category, result in runs.ray.items()
    }
    assert set(nodes.values()) == ray_cluster.node_ids, nodes


def test_driver_writes_the_same_mlflow_runs(runs: Runs) -> None:
    """Every category has a finished run in the Ray experiment with the local run's metrics, epoch
    curves, params (but how it ran) and artifacts."""
    client = runs.mlflow
    for category in SAMPLE_CATEGORIES:
        local_run = client.get_run(str(runs.local[category].mlflow_run_id))
        ray_run = client.get_run(str(runs.ray[category].mlflow_run_id))
        assert ray_run.info.status == "FINISHED"
        assert (
            ray_run.info.experiment_id
            == runs.ray[category].mlflow_experiment_id
            != local_run.info.experiment_id
        )
        assert ray_run.data.tags["salescast.category"] == category
        assert ray_run.data.tags["salescast.version"] == runs.ray[category].version
        assert not differences(RUN_OWN, local_run.data.metrics, ray_run.data.metrics)
        for key in ("train_loss", "served_val_loss"):
            local_curve = [[m.step, m.value] for m in client.get_metric_history(local_run.info.run_id, key)]
            ray_curve = [[m.step, m.value] for m in client.get_metric_history(ray_run.info.run_id, key)]
            assert local_curve and not differences(RUN_OWN, local_curve, ray_curve)
        differing = {
            key
            for key in local_run.data.params.keys() | ray_run.data.params.keys()
            if local_run.data.params.get(key) != ray_run.data.params.get(key)
        }
        assert differing <= EXECUTION_PARAMS, differing
        assert ray_run.data.params["training.executor"] == "ray"
        names = sorted(artifact.path for artifact in client.list_artifacts(ray_run.info.run_id))
        assert names == sorted(artifact.path for artifact in client.list_artifacts(local_run.info.run_id))
