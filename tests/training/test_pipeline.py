"""train_categories end to end on the sample data and on small synthetic files (tiny model, real MLflow)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
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
from core.contracts.job_progress import EVERY_TRAINING, CategoryProgress
from core.contracts.job_result import CategoryResult, read_results, write_results
from core.contracts.manifest import FORMAT_VERSION, MANIFEST_FILE, read_manifest, write_manifest
from core.contracts.metrics import METRICS_FILE, read_metrics
from core.sales_data import file_sha256, load_daily_sales
from core.settings import Settings
from handlers.forecast_steps import load_model
from serving.deploy_policy import decide_deploy
from tests.conftest import make_test_settings
from tests.fixtures.training import SAMPLE_CATEGORIES, TEST_EXPERIMENT
from tests.support.ports import free_port
from tests.training.synthetic import write_transactions
from training import category_training, served_comparison
from training.errors import TrainingError
from training.evaluation import calibrate_intervals
from training.forecaster import as_forecaster, served_normalization
from training.metrics import rmse
from training.pipeline import train_categories
from training.run_inputs import calendar_of, file_calendar_of
from training.tracking import TrackingError
from training.windows import make_category_windows

pytestmark = pytest.mark.slow

ARTIFACT_FILES = {MODEL_FILE, MANIFEST_FILE, METRICS_FILE, LOSS_PLOT_FILE, FORECAST_PLOT_FILE}
FORECASTERS = {"model", "naive", "seasonal_naive", "moving_average"}
METRIC_NAMES = {"mae", "rmse", "smape", "mase", "rmsse", "bias", "wape"}


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
        # the shop closed on the one Christmas its calendar terms saw: every category's next is closed
        assert stats.calendar is not None and stats.calendar.holidays[date(2025, 12, 25)] == 0.0


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
            assert all(isinstance(value, float) for value in values.values())
            assert all(value >= 0 for name, value in values.items() if name != "bias")  # bias is signed
        assert metrics.n_test > 0
        assert metrics.test_start <= metrics.test_end
        assert metrics.served_version is None


def test_metrics_are_held_out_and_the_served_model_learned_the_recent_days(
    trained_models: dict[str, CategoryResult], test_settings: Settings
) -> None:
    """The test metrics come from the evaluation fit (train segment only); model.pt is the served
    fit, which learned from every day but the validation tail; the manifest says both periods."""
    sales = load_daily_sales(test_settings.data)
    result = trained_models["Clothing"]
    assert result.artifact_dir is not None and result.metrics is not None
    folder = Path(result.artifact_dir)
    manifest = read_manifest(folder)
    windows = make_category_windows(sales["Clothing"], manifest.window_size, test_settings.split)
    serving = windows.for_serving(test_settings.split)
    assert manifest.evaluation is not None
    assert manifest.evaluation.train_end == windows.train_end.date() < manifest.evaluation.test_start
    assert (manifest.evaluation.test_start, manifest.evaluation.test_end) == (
        result.metrics.test_start,
        result.metrics.test_end,
    )
    assert manifest.train_end == serving.train_end.date() > manifest.evaluation.train_end
    assert serving.target_dates("val")[-1] == windows.dates[-1]  # early-stopped on the most recent days
    # the model learned from the days divided by their calendar factors (Black Friday's, here)
    calendar = calendar_of(sales["Clothing"], test_settings, file_calendar_of(sales, test_settings))
    adjusted = make_category_windows(calendar.adjusted, manifest.window_size, test_settings.split)
    learned = adjusted.for_serving(test_settings.split).stats
    assert (manifest.mean, manifest.std) == (learned.mean, learned.std)
    assert manifest.format_version == FORMAT_VERSION and manifest.model_input == "normalized"
    assert manifest.normalization is not None and manifest.normalization.method == "window_level"
    assert manifest.max_horizon == test_settings.forecast.max_horizon
    backtest = result.metrics.backtest
    assert backtest is not None and backtest.dates[-1] == manifest.evaluation.test_end
    assert backtest.actual == pytest.approx(windows.targets("test").tolist())
    reported = result.metrics.rmse("model")
    assert rmse(
        np.asarray(backtest.actual), np.asarray(backtest.forecasts["model"]), windows.training_days
    ) == (pytest.approx(reported, rel=1e-9))
    # model.pt is not the evaluation model: it answers the test days differently (it learned them)
    served = as_forecaster(load_model(folder / MODEL_FILE), manifest.normalization)(windows.inputs("test"))
    assert not np.allclose(served, backtest.forecasts["model"])


def test_intervals_are_calibrated_on_the_served_models_own_held_out_tail(
    trained_models: dict[str, CategoryResult], test_settings: Settings
) -> None:
    sales = load_daily_sales(test_settings.data)
    result = trained_models["Beauty"]
    assert result.artifact_dir is not None and result.metrics is not None
    folder = Path(result.artifact_dir)
    manifest = read_manifest(folder)
    assert manifest.intervals is not None
    # calibrated on the days divided by their calendar factors, as the model learned them
    calendar = calendar_of(sales["Beauty"], test_settings, file_calendar_of(sales, test_settings))
    windows = make_category_windows(calendar.adjusted, manifest.window_size, test_settings.split)
    serving = windows.for_serving(test_settings.split)
    forecast = test_settings.forecast
    again = calibrate_intervals(
        as_forecaster(load_model(folder / MODEL_FILE), served_normalization(manifest)),
        serving,
        forecast.max_horizon,
        scale=forecast.interval_scale,
        default_levels=forecast.interval_levels,
        history=forecast.interval_history,
        level_exponent=forecast.interval_level_exponent,
    )
    assert np.asarray(again.quantiles) == pytest.approx(np.asarray(manifest.intervals.quantiles))
    assert manifest.intervals.default_levels == forecast.interval_levels
    assert manifest.intervals.steps == forecast.max_horizon
    assert set(result.metrics.coverage) == {str(level) for level in forecast.interval_levels}
    assert all(0 <= value <= 100 for value in result.metrics.coverage.values())


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
        # what the served fit chose, as the model file holds it
        served = load_model(Path(result.artifact_dir or "") / MODEL_FILE)
        assert float(params["served.classical_weight"]) == pytest.approx(served.classical_weight)
        assert float(params["served.classical_alpha"]) == pytest.approx(served.classical.alpha)
        assert {"evaluation.classical_shrink", "evaluation.classical_anchor_weight"} <= set(params)
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
    events: list[CategoryProgress] = []
    [result] = train_categories(
        ["Beauty"], "compare", settings, compare_versions={"Beauty": served.version}, listener=events.append
    )
    assert result.status == "succeeded", result.error
    assert result.metrics is not None and result.version is not None
    assert result.version > served.version
    assert result.metrics.served_version == served.version
    # the served version early-stopped on the test days (its validation tail): it is scored by its
    # own held-out forecasts, which the same data, config and seed make the new ones
    assert result.metrics.rmse("served") == pytest.approx(served.metrics.rmse("model"), rel=1e-5)
    assert decide_deploy("if_better", result.metrics, served.version).deploy
    # same data, config and seed: the same models
    assert result.metrics.test["model"].model_dump() == pytest.approx(
        served.metrics.test["model"].model_dump(), rel=1e-5
    )
    # the listener heard the start, the shared fit's epochs as they ran (once, for every category still
    # training), then the category's own: every epoch of both fits with its losses, and the end
    assert events[0] == CategoryProgress(
        category="Beauty", state="training", max_epochs=settings.training.max_epochs
    )
    shared = [event for event in events if event.category == EVERY_TRAINING]
    assert events[1 : len(shared) + 1] == shared  # before any of the category's own
    phases = [event.phase for event in shared]
    assert phases == ["evaluation"] * phases.count("evaluation") + ["serving"] * phases.count("serving")
    assert phases.count("evaluation") >= 1 and all(event.version is None for event in shared)
    served_live = [event for event in shared if event.phase == "serving"]
    assert result.epochs is not None and [event.epoch for event in served_live] == list(
        range(1, result.epochs + 1)
    )
    # the category's own run then takes both fits, each replayed in one event with every epoch's losses
    own_evaluation, own_served = events[len(shared) + 1 : -1]
    assert (own_evaluation.phase, own_served.phase) == ("evaluation", "serving")
    assert own_served.epoch == result.epochs == len(own_served.train_losses) == len(own_served.val_losses)
    assert own_served.train_losses == [event.train_loss for event in served_live]
    for replayed in (own_evaluation, own_served):
        assert replayed.version == result.version and replayed.val_loss is not None
    assert events[-1] == CategoryProgress(category="Beauty", state="succeeded", version=result.version)


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

    monkeypatch.setattr(category_training, "plot_forecast", broken_plot)
    [result] = train_categories(["Other"], "broken", synthetic_settings, data_path=synthetic_csv)
    assert result.status == "failed" and result.error == "disk full"
    folder = category_dir(synthetic_settings, "Other")
    assert not folder.exists() or not any(folder.iterdir())
    client = MlflowClient(tracking_uri=synthetic_settings.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name("broken")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"


def test_a_served_version_is_scored_on_test_days_only_when_it_never_saw_them(
    trained_models: dict[str, CategoryResult], test_settings: Settings, tmp_path: Path
) -> None:
    """Its own model runs on days it never saw; days it saw (trained or early-stopped on) would flatter
    it, so it is scored by its held-out forecasts on the same days, or not at all."""
    served = trained_models["Beauty"]
    assert served.artifact_dir is not None and served.metrics is not None
    assert served.metrics.backtest is not None
    settings = sharing_mlflow(tmp_path, test_settings)
    windows = make_category_windows(
        load_daily_sales(settings.data)["Beauty"], settings.window.size, settings.split
    )
    before_test = windows.target_dates("test")[0].date() - timedelta(days=1)
    older = version_dir(settings, "Beauty", "20000101.000000")
    shutil.copytree(served.artifact_dir, older)
    manifest = read_manifest(older)
    # a version without calendar terms: its forecasts are its model's on the windows as sold
    never_saw = {"train_end": before_test, "last_date": before_test, "calendar": None}
    write_manifest(older, manifest.model_copy(update=never_saw))
    model = as_forecaster(load_model(older / MODEL_FILE), served_normalization(manifest))
    assert served_comparison.served_forecast(settings, windows, "20000101.000000") == pytest.approx(
        model(windows.inputs("test")), rel=1e-6
    )
    write_manifest(older, manifest)  # it saw the test days: its held-out forecasts stand in
    assert served_comparison.served_forecast(settings, windows, "20000101.000000") == pytest.approx(
        served.metrics.backtest.forecasts["model"]
    )
    shorter = make_category_windows(
        load_daily_sales(settings.data)["Beauty"].iloc[:-7], settings.window.size, settings.split
    )
    with pytest.raises(TrainingError, match="cannot be compared fairly"):
        served_comparison.served_forecast(settings, shorter, "20000101.000000")


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
