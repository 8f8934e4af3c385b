"""Categories launched recently: fewer days than the networks' windows need still train a
classical-only version that serves through the handler's one inference path and says why it fell
back; below `training.min_history_days` a clear error."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from core.artifacts import MODEL_FILE
from core.contracts.job_progress import read_progress
from core.contracts.job_result import CategoryResult
from core.contracts.manifest import MANIFEST_FILE, VersionManifest, read_manifest
from core.sales_data import load_daily_sales
from core.settings import Settings
from handlers import forecast_steps as steps
from handlers import version_stats
from salescast.train_job import ProgressFile
from serving.archive import archive_version
from serving.version_index import read_archived
from tests.conftest import make_test_settings
from tests.fixtures.gateway import GatewayProcess
from tests.fixtures.torchserve import StartTorchServe
from tests.training.synthetic import weekly_series, write_transactions
from training.fitting import fit_classical_only
from training.model import WeeklyProfileES
from training.pipeline import train_categories
from training.windows import ShortHistoryError, make_short_windows, minimum_days

WINDOW = 56
DAYS = {"Big": 150, "Launched": 30, "Tiny": 10}


@pytest.fixture(scope="module")
def short_settings(tmp_path_factory: pytest.TempPathFactory, test_settings: Settings) -> Settings:
    """The tiny model with the served window of 56 days, the session's MLflow store, and a file with
    a normal, a launched and a too-short category as the data."""
    root = tmp_path_factory.mktemp("short-history")
    mlflow = test_settings.mlflow
    return make_test_settings(
        root,
        data={"path": str(write_transactions(root / "sales.csv", DAYS))},
        window={"size": WINDOW},
        mlflow={"tracking_uri": mlflow.tracking_uri, "artifact_location": mlflow.artifact_location},
        gateway={"predict_timeout_s": 10.0},
    )


@pytest.fixture(scope="module")
def progress_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("short-progress") / "progress.json"


@pytest.fixture(scope="module")
def short_run(short_settings: Settings, progress_path: Path) -> dict[str, CategoryResult]:
    """`train --all`'s path (every category of the file), its progress written as a job's is."""
    progress = ProgressFile(progress_path, list(DAYS))
    results = train_categories(
        list(DAYS), "short-history", short_settings, listener=progress.on_training_event
    )
    return {result.category: result for result in results}


def _manifest(result: CategoryResult) -> VersionManifest:
    assert result.artifact_dir is not None
    return read_manifest(Path(result.artifact_dir))


@pytest.mark.slow
def test_the_shared_networks_epochs_show_only_on_the_categories_they_train(
    short_run: dict[str, CategoryResult], progress_path: Path
) -> None:
    """The job's progress (what the Train tab shows): the shared fit's epochs and losses on `Big`, not on
    the launched category, which trains no networks, nor on the one too short to train."""
    assert short_run["Big"].status == "succeeded"
    progress = read_progress(progress_path)
    assert progress is not None
    entries = {entry.category: entry for entry in progress.categories}
    big = entries["Big"]
    assert big.max_epochs is not None and big.epoch is not None and len(big.train_losses) >= 1
    for name in ("Launched", "Tiny"):
        entry = entries[name]
        assert (entry.max_epochs, entry.epoch, entry.train_losses) == (None, None, []), name
    # the launched category says it trains its classical part only; the one too short for that says not
    assert (big.classical_only, entries["Launched"].classical_only, entries["Tiny"].classical_only) == (
        None,
        True,
        None,
    )


@pytest.mark.slow
def test_a_launched_category_trains_a_classical_only_version_that_says_why(
    short_run: dict[str, CategoryResult], short_settings: Settings
) -> None:
    big, launched = short_run["Big"], short_run["Launched"]
    assert big.status == launched.status == "succeeded", (big.error, launched.error)
    assert _manifest(big).fallback is None
    manifest = _manifest(launched)
    needed = minimum_days(WINDOW, short_settings.split)
    assert manifest.fallback is not None and manifest.fallback.kind == "classical_only"
    assert f"30 days of history; the networks need {needed}" in manifest.fallback.reason
    assert "intervals calibrated on only" in manifest.fallback.reason
    # the zeros before the first sale would swell a window-based interval scale
    assert manifest.intervals is not None and manifest.intervals.scale == "none"
    assert manifest.window_size == WINDOW and manifest.shared_network is None
    assert manifest.train_start == weekly_series(DAYS["Big"]).index[-30].date()
    assert launched.metrics is not None and np.isfinite(launched.metrics.rmse("model") or np.nan)
    client = MlflowClient(tracking_uri=short_settings.mlflow.tracking_uri)
    assert launched.mlflow_run_id is not None
    run = client.get_run(launched.mlflow_run_id)
    assert run.data.tags["salescast.fallback"] == "classical_only"
    assert run.data.params["fallback"] == "classical_only"
    assert client.get_run(str(big.mlflow_run_id)).data.params["fallback"] == "none"


@pytest.mark.slow
def test_the_classical_only_version_serves_through_the_handler_steps_and_its_archive(
    short_run: dict[str, CategoryResult], short_settings: Settings
) -> None:
    result = short_run["Launched"]
    folder = Path(str(result.artifact_dir))
    stats = steps.load_norm_stats(folder / MANIFEST_FILE)
    model = steps.load_model(folder / MODEL_FILE)
    history = weekly_series(DAYS["Big"], seed=1).to_numpy()[-30:]
    # a client sends the window size as for every category: zeros before the first sale
    window = np.concatenate([np.zeros(WINDOW - len(history)), history])
    paths = steps.forecast_paths(model, [window.tolist()], stats, 7)
    assert bool(torch.isfinite(paths).all()) and float(paths.min()) >= 0.0
    # the zeros before launch do not drag the level: the week ahead is the level since launch
    assert 0.7 * history.mean() < float(paths.mean()) < 1.3 * history.mean()
    status, answer = steps.answer_request(
        ("sales", [window.tolist()], 7, None, None), paths, torch.tensor(window)[None], stats
    )
    levels = stats["intervals"]["default_levels"]
    assert status == 200 and len(answer["forecast"][0]["intervals"]) == len(levels)
    described = version_stats.describe(stats, version_stats.read_metrics_summary(folder / steps.METRICS_FILE))
    assert described["fallback"] == _manifest(result).model_dump(mode="json")["fallback"]
    assert described["classical"] == _manifest(result).model_dump(mode="json")["classical"]
    assert described["classical"]["weight"] == 1.0  # the classical part serves alone
    archive = archive_version(short_settings, "Launched", result.version)
    assert archive.path.is_file()
    info = read_archived(archive)
    assert info.fallback == _manifest(result).fallback and info.window_size == WINDOW
    assert info.classical == _manifest(result).classical


@pytest.mark.slow
@pytest.mark.torchserve
def test_torchserve_and_the_gateway_serve_it_from_its_history_and_say_why(
    short_run: dict[str, CategoryResult],
    short_settings: Settings,
    isolated_torchserve: StartTorchServe,
    tmp_path: Path,
) -> None:
    archives = [
        archive_version(short_settings, name, short_run[name].version) for name in ("Big", "Launched")
    ]
    isolated_torchserve(short_settings, archives)
    with (
        GatewayProcess(short_settings, tmp_path / "gateway") as gateway,
        httpx.Client(base_url=gateway.url, timeout=30.0) as client,
    ):
        models = {model["category"]: model for model in client.get("/api/models").json()["models"]}
        fallback = _manifest(short_run["Launched"]).model_dump(mode="json")["fallback"]
        assert models["Launched"]["fallback"] == models["Launched"]["versions"][0]["fallback"] == fallback
        assert models["Big"]["fallback"] is None and models["Launched"]["window_size"] == WINDOW
        # what each blends, and its share: the full model's from the configured weights, the short one alone
        big = _manifest(short_run["Big"]).model_dump(mode="json")["classical"]
        assert models["Big"]["classical"] == models["Big"]["versions"][0]["classical"] == big
        assert big["weight"] in (
            short_settings.model.classical_weight,
            short_settings.model.classical_weight_without_signal,
        )
        assert models["Launched"]["classical"]["weight"] == 1.0
        # 30 days of history, a 56-day window: the days before the first sale go in as zeros
        forecast = client.get("/api/forecast/Launched", params={"horizon": 7})
        assert forecast.status_code == 200, forecast.text
        body = forecast.json()
        assert body["window_size"] == WINDOW and len(body["forecast"]) == 7
        history = load_daily_sales(short_settings.data, short_settings.data.path)["Launched"].to_numpy()
        folder = Path(str(short_run["Launched"].artifact_dir))
        expected = steps.forecast_paths(
            steps.load_model(folder / MODEL_FILE),
            [[0.0] * (WINDOW - len(history)) + history.tolist()],
            steps.load_norm_stats(folder / MANIFEST_FILE),
            7,
        )[0].tolist()
        assert [step["prediction"] for step in body["forecast"]] == pytest.approx(expected, rel=1e-5)
        assert 0.7 * history.mean() < float(np.mean(expected)) < 1.3 * history.mean()
        # a client of the predict route sends the window size as for every category
        predicted = client.post("/api/predict", json={"category": "Launched", "sales": [100.0] * WINDOW})
        assert predicted.status_code == 200 and predicted.json()["prediction"] > 0


@pytest.mark.slow
def test_below_min_history_days_the_error_is_clear(short_run: dict[str, CategoryResult]) -> None:
    tiny = short_run["Tiny"]
    assert tiny.status == "failed" and tiny.version is None and tiny.error is not None
    assert "'Tiny' has 10 days of history; at least 14 are needed" in tiny.error
    assert "training.min_history_days" in tiny.error


def test_short_windows_pad_with_zeros_and_the_level_ignores_them(test_settings: Settings) -> None:
    series = weekly_series(35, name="Launched")
    windows = make_short_windows(series, WINDOW, test_settings.split, 14)
    assert windows.short_history and windows.first_day == WINDOW
    assert np.all(windows.values[:WINDOW] == 0) and len(windows.training_days) <= 35
    assert windows.train_start == series.index[0]
    serving = windows.for_serving(test_settings.split)
    assert serving.first_day == WINDOW and int(serving.train[0]) == int(windows.train[0])
    forecaster = fit_classical_only(serving, test_settings)
    assert len(forecaster.nets) == 0 and forecaster.classical_weight == 1.0
    last = torch.tensor(windows.values[-WINDOW:], dtype=torch.float32)[None]
    assert isinstance(forecaster.classical, WeeklyProfileES)  # a short history never gets TSB
    level, _ = forecaster.classical.decompose(last)
    assert abs(float(level[0]) - series.to_numpy().mean()) < 0.15 * series.to_numpy().mean()


def test_min_history_days_is_enforced(test_settings: Settings) -> None:
    with pytest.raises(ShortHistoryError, match=r"'Launched' has 9 days of history; at least 14 are needed"):
        make_short_windows(weekly_series(9, name="Launched"), WINDOW, test_settings.split, 14)
