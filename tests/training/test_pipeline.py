"""train_categories end to end on the sample data and on small synthetic files (tiny model, real MLflow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from core.artifacts import (
    FORECAST_PLOT_FILE,
    LOSS_PLOT_FILE,
    MODEL_FILE,
    category_dir,
    is_version,
    version_dir,
)
from core.contracts.job_result import CategoryResult, read_results, write_results
from core.contracts.manifest import MANIFEST_FILE, read_manifest
from core.contracts.metrics import METRICS_FILE, read_metrics
from core.sales_data import file_sha256, load_daily_sales
from core.settings import Settings
from tests.conftest import make_test_settings
from tests.fixtures.training import SAMPLE_CATEGORIES, TEST_EXPERIMENT
from tests.support.ports import free_port
from tests.training.synthetic import write_transactions
from training import pipeline
from training.export import load_torchscript, predict_normalized
from training.metrics import rmse
from training.pipeline import TrainingEvent, train_categories
from training.tracking import TrackingError
from training.windows import NormStats, make_category_windows

pytestmark = pytest.mark.slow

ARTIFACT_FILES = {MODEL_FILE, MANIFEST_FILE, METRICS_FILE, LOSS_PLOT_FILE, FORECAST_PLOT_FILE}
FORECASTERS = {"model", "naive", "seasonal_naive", "moving_average"}
METRIC_NAMES = {"mae", "rmse", "smape", "mase", "rmsse"}


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("synthetic")


def sharing_mlflow(root: Path, test_settings: Settings) -> Settings:
    """Tiny config with its own artifacts but the session's MLflow store (creating a store is slow)."""
    mlflow = test_settings.mlflow
    return make_test_settings(
        root, mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location}
    )


@pytest.fixture(scope="module")
def synthetic_settings(synthetic_root: Path, test_settings: Settings) -> Settings:
    return sharing_mlflow(synthetic_root, test_settings)


@pytest.fixture(scope="module")
def synthetic_csv(synthetic_root: Path) -> Path:
    return write_transactions(synthetic_root / "sales.csv", {"Big": 150, "Tiny": 12, "Other": 150})


def test_sample_categories_have_complete_artifacts(trained_models: dict[str, CategoryResult]) -> None:
    assert set(trained_models) == set(SAMPLE_CATEGORIES)
    for category, result in trained_models.items():
        assert result.status == "succeeded"
        assert result.version is not None and is_version(result.version)
        assert result.artifact_dir is not None
        folder = Path(result.artifact_dir)
        assert {path.name for path in folder.iterdir()} == ARTIFACT_FILES
        assert folder.parent.name == category.lower()
        assert not [p for p in folder.parent.iterdir() if p.name.startswith((".tmp-", "."))]
        for plot in (LOSS_PLOT_FILE, FORECAST_PLOT_FILE):
            assert (folder / plot).read_bytes().startswith(b"\x89PNG")
        assert result.seconds > 0
        assert result.epochs is not None and 1 <= result.epochs <= 3


def test_norm_stats_follow_the_contract(
    trained_models: dict[str, CategoryResult], test_settings: Settings
) -> None:
    sha = file_sha256(test_settings.data.path)
    for category, result in trained_models.items():
        assert result.artifact_dir is not None
        stats = read_manifest(Path(result.artifact_dir))
        assert stats.category == category
        assert stats.slug == category.lower()
        assert stats.version == result.version
        assert stats.window_size == test_settings.window.size
        assert stats.std > 0
        assert stats.fill_policy == "zero"
        assert stats.train_start < stats.train_end < stats.last_date
        assert stats.data_sha256 == sha
        assert Path(stats.data_file) == test_settings.data.path.resolve()


def test_metrics_follow_the_contract(trained_models: dict[str, CategoryResult]) -> None:
    for category, result in trained_models.items():
        assert result.artifact_dir is not None
        metrics = read_metrics(Path(result.artifact_dir))
        assert metrics == result.metrics
        assert metrics.category == category
        assert metrics.version == result.version
        assert set(metrics.test) == FORECASTERS
        for scores in metrics.test.values():
            values = scores.model_dump()
            assert set(values) == METRIC_NAMES
            assert all(isinstance(value, float) and value >= 0 for value in values.values())
        assert metrics.n_test > 0
        assert metrics.test_start <= metrics.test_end
        assert metrics.served_version is None


def test_exported_model_reproduces_the_reported_test_rmse(
    trained_models: dict[str, CategoryResult], test_settings: Settings
) -> None:
    """What the handler will do (normalize → model.pt → de-normalize) gives the metrics.json numbers."""
    sales = load_daily_sales(test_settings.data)
    result = trained_models["Clothing"]
    assert result.artifact_dir is not None and result.metrics is not None
    manifest = read_manifest(Path(result.artifact_dir))
    stats = NormStats(mean=manifest.mean, std=manifest.std)
    windows = make_category_windows(sales["Clothing"], manifest.window_size, test_settings.split)
    assert windows.stats == stats
    model = load_torchscript(Path(result.artifact_dir) / MODEL_FILE)
    predicted = stats.denormalize(predict_normalized(model, stats.normalize(windows.inputs("test"))))
    actual = windows.targets("test")
    assert rmse(actual, predicted, actual) == pytest.approx(result.metrics.rmse("model"), rel=1e-6)
    assert result.metrics.n_test == len(actual)
    assert result.metrics.test_end == manifest.last_date


def test_each_category_is_one_mlflow_run(
    trained_models: dict[str, CategoryResult], test_settings: Settings
) -> None:
    client = MlflowClient(tracking_uri=test_settings.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(TEST_EXPERIMENT)
    assert experiment is not None
    runs = {
        run.data.params["category"]: run
        for run in client.search_runs([experiment.experiment_id])
        if run.data.params.get("version") in {r.version for r in trained_models.values()}
    }
    assert set(runs) == set(SAMPLE_CATEGORIES)
    for category, run in runs.items():
        result = trained_models[category]
        assert result.metrics is not None
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert params["window_size"] == str(test_settings.window.size)
        assert params["fill_policy"] == "zero"
        assert params["model.lstm_hidden"] == "16"
        assert params["training.learning_rate"] == str(test_settings.training.learning_rate)
        assert params["data_sha256"] == file_sha256(test_settings.data.path)
        assert run.data.metrics["test_model_rmse"] == pytest.approx(result.metrics.rmse("model"))
        assert "test_seasonal_naive_rmsse" in run.data.metrics
        val_history = client.get_metric_history(run.info.run_id, "val_loss")
        train_history = client.get_metric_history(run.info.run_id, "train_loss")
        assert len(val_history) == len(train_history) >= 1
        assert [point.step for point in val_history] == list(range(1, len(val_history) + 1))
        assert {artifact.path for artifact in client.list_artifacts(run.info.run_id)} == ARTIFACT_FILES


def test_same_seed_same_model_and_comparison_with_a_served_version(
    trained_models: dict[str, CategoryResult], test_settings: Settings, tmp_path: Path
) -> None:
    served = trained_models["Beauty"]
    assert served.artifact_dir is not None and served.version is not None and served.metrics is not None
    settings = sharing_mlflow(tmp_path, test_settings)
    shutil.copytree(served.artifact_dir, version_dir(settings, "Beauty", served.version))
    events: list[TrainingEvent] = []
    [result] = train_categories(
        ["Beauty"], "compare", settings, compare_versions={"Beauty": served.version}, listener=events.append
    )
    assert result.status == "succeeded", result.error
    assert result.metrics is not None and result.version is not None
    assert result.version > served.version
    assert result.metrics.served_version == served.version
    assert result.metrics.test["served"].model_dump() == pytest.approx(
        served.metrics.test["model"].model_dump()
    )
    # same data, config and seed: the same model
    assert result.metrics.test["model"].model_dump() == pytest.approx(
        served.metrics.test["model"].model_dump(), rel=1e-5
    )
    # the listener heard the start, every epoch with its losses, and the end
    assert events[0] == TrainingEvent("Beauty", "training", max_epochs=settings.training.max_epochs)
    epochs = events[1:-1]
    assert result.epochs is not None
    assert [event.epoch for event in epochs] == list(range(1, result.epochs + 1))
    assert all(event.version == result.version and event.val_loss is not None for event in epochs)
    assert events[-1] == TrainingEvent("Beauty", "succeeded", version=result.version)


def test_failing_categories_leave_no_artifacts_and_others_succeed(
    synthetic_settings: Settings, synthetic_csv: Path
) -> None:
    results = train_categories(
        ["Tiny", "Big", "Nope"], "isolation", synthetic_settings, data_path=synthetic_csv
    )
    by_name = {result.category: result for result in results}
    assert [result.category for result in results] == ["Tiny", "Big", "Nope"]
    assert by_name["Big"].status == "succeeded"
    tiny, nope = by_name["Tiny"], by_name["Nope"]
    assert (tiny.status, tiny.version, tiny.artifact_dir, tiny.metrics) == ("failed", None, None, None)
    assert (
        tiny.error is not None
        and "'Tiny'" in tiny.error
        and "12 days" in tiny.error
        and "at least" in tiny.error
    )
    assert nope.status == "failed" and nope.error is not None and "'Big'" in nope.error
    assert tiny.failed_step == nope.failed_step == "training"
    assert not category_dir(synthetic_settings, "Tiny").exists()
    assert not category_dir(synthetic_settings, "Nope").exists()
    written = write_results(synthetic_settings.paths.run / "results.json", results)
    assert read_results(written) == results


def test_failure_after_training_removes_the_staging_folder_and_fails_the_run(
    synthetic_settings: Settings, synthetic_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_plot(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "plot_forecast", broken_plot)
    [result] = train_categories(["Other"], "broken", synthetic_settings, data_path=synthetic_csv)
    assert result.status == "failed" and result.error == "disk full"
    folder = category_dir(synthetic_settings, "Other")
    assert not folder.exists() or not any(folder.iterdir())
    client = MlflowClient(tracking_uri=synthetic_settings.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name("broken")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"


def test_a_version_that_cannot_be_compared_is_reported_not_fatal(
    synthetic_settings: Settings, synthetic_csv: Path
) -> None:
    [result] = train_categories(
        ["Big"],
        "missing",
        synthetic_settings,
        data_path=synthetic_csv,
        compare_versions={"Big": "20000101.000000"},
    )
    assert result.status == "succeeded", result.error
    assert result.metrics is not None
    assert result.metrics.served_version == "20000101.000000"
    assert "served" not in result.metrics.test
    assert result.metrics.served_error is not None and "20000101.000000" in result.metrics.served_error


def test_unreachable_tracking_server_is_a_clear_error(synthetic_root: Path, synthetic_csv: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = make_test_settings(synthetic_root, mlflow={"tracking_uri": url, "http_retries": 0})
    with pytest.raises(TrackingError, match=url.replace(".", r"\.")):
        train_categories(["Big"], "unreachable", settings, data_path=synthetic_csv)


def test_predictions_are_finite(trained_models: dict[str, CategoryResult]) -> None:
    for result in trained_models.values():
        assert result.metrics is not None
        assert np.isfinite(result.metrics.rmse("model") or np.nan)
