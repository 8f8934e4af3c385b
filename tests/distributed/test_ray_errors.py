"""What a user can get wrong about a cluster is a clear error: an address nothing answers (before any
training, not Ray's silent exit), a `paths.artifacts` the nodes do not share (the category fails)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.isolation import LOOPBACK, free_port
from tests.conftest import SAMPLE_DATA, make_test_settings
from tests.fixtures.training import SAMPLE_CATEGORIES
from training import pipeline
from training.category_training import CategoryWork
from training.pipeline import train_categories
from training.ray_executor import RayExecutorError
from training.run_inputs import calendar_of
from training.tracking import Tracker


def test_an_absent_cluster_fails_before_training(tmp_path: Path) -> None:
    address = f"{LOOPBACK}:{free_port()}"  # nothing listens there
    settings = make_test_settings(tmp_path, training={"executor": "ray", "ray_address": address})
    started = time.monotonic()
    with pytest.raises(RayExecutorError, match=f"no Ray cluster answers at {address}"):
        train_categories(SAMPLE_CATEGORIES, "absent-cluster", settings)
    assert time.monotonic() - started < 10  # neither the shared networks nor Ray's ~40 s wait
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").iterdir())


@pytest.mark.slow
def test_a_version_folder_the_driver_cannot_see_fails_its_category(
    tmp_path: Path, test_settings: Settings
) -> None:
    """A task whose node wrote the version where the driver does not see it (`paths.artifacts` not a
    shared volume): the category fails saying so, and its MLflow run is marked FAILED."""
    store = test_settings.mlflow
    settings = make_test_settings(
        tmp_path, mlflow={"tracking_uri": store.tracking_uri, "artifact_location": store.artifact_location}
    )
    tracker = Tracker(settings.mlflow, "unshared-artifacts")
    sales = load_daily_sales(settings.data.model_copy(update={"categories": "auto"}), SAMPLE_DATA)
    calendars = {name: calendar_of(series, settings) for name, series in sales.items()}
    info = {"data_file": str(SAMPLE_DATA), "data_sha256": "0" * 64}
    work = CategoryWork(sales, settings, info, None, calendars)
    task = pipeline._train_recorded("Beauty", None, work, str(tracker.experiment_id))  # as a task runs it
    assert task.result.status == "succeeded" and task.result.artifact_dir is not None
    shutil.rmtree(task.result.artifact_dir)  # the folder stayed on the task's node
    result = pipeline._logged(task, tracker, "node-elsewhere")
    assert result.status == "failed" and result.failed_step == "training"
    assert "is not visible here: paths.artifacts must be a volume every node mounts" in str(result.error)
    [run] = tracker.client.search_runs([str(tracker.experiment_id)])
    assert run.info.status == "FAILED" and run.data.tags["salescast.ray_node"] == "node-elsewhere"
