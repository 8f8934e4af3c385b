"""`run_accuracy` on a tiny generated file with a tiny model: every method scored on the same days."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.atomic import write_json_atomic
from core.sample_data import write_sample
from salescast.bench.accuracy import MODEL, run_accuracy
from salescast.bench.report import accuracy_markdown, plot_accuracy
from salescast.bench.statistical import statistical_forecasts
from tests.conftest import make_test_settings


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("bench") / "small.csv", 3, "2024-01-01", 0.4)


@pytest.mark.slow
def test_accuracy_scores_every_method_on_the_same_days(tmp_path: Path, small_csv: Path) -> None:
    settings = make_test_settings(
        tmp_path, training={"max_epochs": 1}, data={"categories": ["Beauty", "Clothing"]}
    )
    report = run_accuracy(
        settings, small_csv, folds=2, fold_days=7, statistical=False, progress=lambda _: None
    )
    assert [c.category for c in report.categories] == ["Beauty", "Clothing"]
    for category in report.categories:
        assert len(category.actual) == 14
        assert set(category.metrics) == {MODEL, "naive", "seasonal_naive", "moving_average"}
        assert all(len(forecast) == 14 for forecast in category.forecasts.values())
        assert len(category.fold_metrics) == 2
        best = category.metrics[category.best_baseline]["rmse"]
        assert category.rmse_ratio == pytest.approx(category.metrics[MODEL]["rmse"] / best)
    overall = report.overall()
    assert set(overall) == set(report.methods)
    payload = report.to_dict()
    write_json_atomic(tmp_path / "a.json", payload)
    assert json.loads((tmp_path / "a.json").read_text())["folds"] == 2
    markdown = accuracy_markdown(report)
    assert "| cnn_lstm |" in markdown and "**Beauty**" in markdown
    assert plot_accuracy(report, tmp_path / "a.png").stat().st_size > 1000


def test_statistical_references_are_one_step_ahead_on_the_targets() -> None:
    rng = np.random.default_rng(0)
    days = np.arange(140)
    values = 100 + 20 * np.sin(2 * np.pi * days / 7) + rng.normal(0, 2, len(days))
    targets = np.arange(126, 133, dtype=np.int64)
    forecasts = statistical_forecasts(values, 126, targets, 7)
    assert set(forecasts) == {"auto_ets", "auto_arima"}
    for forecast in forecasts.values():
        assert forecast.shape == (7,)
        assert all(math.isfinite(value) for value in forecast)
        # a weekly sine is easy: both references must be far better than the series' spread
        assert float(np.sqrt(np.mean((forecast - values[targets]) ** 2))) < 0.5 * float(np.std(values))
