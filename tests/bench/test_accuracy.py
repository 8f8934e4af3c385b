"""`run_accuracy` on a tiny generated file with a tiny model: every method scored on the same days."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import training.fitting
from core.atomic import write_json_atomic
from core.sample_data import expected_sales, write_sample
from core.settings import Settings
from salescast.bench.accuracy import HORIZONS, KNOWN_LEVEL, MODEL, OPTIMUM, centred_level, run_accuracy
from salescast.bench.report import accuracy_markdown, plot_accuracy
from salescast.bench.statistical import statistical_paths
from tests.conftest import make_test_settings
from training.windows import CategoryWindows


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("bench") / "small.csv", 3, "2024-01-01", 0.4)


@pytest.mark.slow
def test_accuracy_scores_every_method_on_the_same_days(tmp_path: Path, small_csv: Path) -> None:
    settings = make_test_settings(
        tmp_path, training={"max_epochs": 1}, data={"categories": ["Beauty", "Clothing"]}
    )
    generated, expected = expected_sales(3, "2024-01-01", 0.4)  # how small_csv was made
    optimum = {"Beauty": {h: pd.Series(expected["Beauty"].at(h), index=generated) for h in HORIZONS}}
    report = run_accuracy(
        settings,
        small_csv,
        folds=2,
        fold_days=7,
        seeds=[1, 2],
        statistical=False,
        progress=lambda _: None,
        optimum=optimum,  # Beauty's only: Clothing is scored as a file without one
    )
    assert [c.category for c in report.categories] == ["Beauty", "Clothing"]
    for category in report.categories:
        scored = {"naive", "seasonal_naive", "ma14", KNOWN_LEVEL}
        if category.category == "Beauty":
            scored.add(OPTIMUM)
        for horizon in HORIZONS:
            days = 2 * (7 - horizon + 1)  # each fold's origins whose target still lies in the fold
            assert len(category.actual[horizon]) == len(category.dates[horizon]) == days
            assert set(category.references[horizon]) == scored
            if OPTIMUM in scored:  # the expectation of exactly the target days
                on_days = optimum["Beauty"][horizon][category.dates[horizon]].to_numpy()
                assert category.references[horizon][OPTIMUM] == pytest.approx(on_days)
                assert category.optimum(horizon) is not None
            assert all(len(forecast) == days for forecast in category.references[horizon].values())
            assert [len(forecast) for forecast in category.model[horizon]] == [days, days]  # one per seed
            assert category.best_reference(horizon) in ("seasonal_naive", "ma14")
            bar = category.reference_rmse(horizon)[category.best_reference(horizon)]
            assert category.ratios(horizon) == pytest.approx([v / bar for v in category.model_rmse(horizon)])
            assert set(category.mean_coverage(horizon)) == {"80", "95"}
            assert all(0 <= value <= 100 for value in category.mean_coverage(horizon).values())
            assert set(category.kupiec(horizon)) == {"80", "95"}
            assert all(0 <= p <= 1 for p in category.kupiec(horizon).values())
            scores = category.mean_interval_scores(horizon)
            totals = {"total_coverage_80", "total_coverage_95"} if horizon == max(HORIZONS) else set()
            assert set(scores) == {"pinball", "interval_score_80", "interval_score_95", *totals}
            assert all(0 < value < math.inf for name, value in scores.items() if name not in totals)
            assert all(0 <= scores[name] <= 100 for name in totals)
        assert category.dates[7][0] == category.dates[1][6]  # 7 days ahead of the first origin
        assert set(category.metrics()) == {MODEL, *scored}
        assert 0 < category.known_level(1) < 2
    assert len(report.overall_ratios(1)) == 2
    payload = report.to_dict()
    write_json_atomic(tmp_path / "a.json", payload)
    written = json.loads((tmp_path / "a.json").read_text())
    assert written["seeds"] == [1, 2] and set(written["overall"]) == {"h1", "h7"}
    assert written["overall"]["h1"]["model_to_best"]["n"] == 2
    # the optimum is in the JSON of the category that has one; not overall, which Clothing lacks it for
    assert "optimum_to_best" in written["categories"]["Beauty"]["h7"]
    assert "optimum_to_best" not in written["categories"]["Clothing"]["h7"]
    assert "optimum_to_best" not in written["overall"]["h1"] and report.overall_optimum(1) is None
    markdown = accuracy_markdown(report)
    beauty = markdown[markdown.index("**Beauty**") : markdown.index("**Clothing**")]
    assert "| known level | optimum | coverage |" in beauty
    assert "optimum" not in markdown[markdown.index("**Clothing**") : markdown.index("**By kind")]
    assert "| h=1 |" in markdown and "| h=7 |" in markdown and "**Beauty**" in markdown
    assert "Kupiec's test rejects" in markdown and "(p " in markdown and "pinball" in markdown
    assert set(written["overall"]["h1"]["interval_scores"]) == {
        "pinball",
        "interval_score_80",
        "interval_score_95",
    }
    assert "Coverage of the 7-day total's own interval: 80%: " in markdown
    assert "**By kind of target day, one day ahead**" in markdown
    assert "Blend headroom" not in markdown  # nothing to blend with without the statistical references
    assert written["overall"]["h1"]["blend_headroom"] == {}
    kinds = written["categories"]["Beauty"]["h1"]["by_day_kind"]
    assert set(kinds) <= {"holidays", "nov_dec", "rest"} and "rest" in kinds
    assert sum(kind["days"] for kind in kinds.values()) == len(report.categories[0].actual[1])
    rejected = written["overall"]["h1"]["kupiec_rejected_categories"]
    assert set(rejected) == {"80", "95"} and all(0 <= count <= 2 for count in rejected.values())
    assert plot_accuracy(report, tmp_path / "a.png").stat().st_size > 1000


@pytest.mark.parametrize("pool", [True, False])
def test_a_fold_trains_its_networks_once_for_every_category(
    tmp_path: Path, small_csv: Path, monkeypatch: pytest.MonkeyPatch, pool: bool
) -> None:
    """Pooled networks are trained once per fold and seed on every category's days before the
    cut-off, as a run trains its served set; unpooled, each category trains its own."""
    trained: list[list[CategoryWindows]] = []
    real = training.fitting.train_network

    def spy(
        windows: CategoryWindows,
        settings: Settings,
        checkpoints_dir: Path,
        others: Sequence[CategoryWindows] = (),
        **kwargs: Any,
    ) -> Path:
        trained.append([windows, *others])
        return real(windows, settings, checkpoints_dir, others, **kwargs)

    monkeypatch.setattr(training.fitting, "train_network", spy)
    settings = make_test_settings(
        tmp_path, training={"max_epochs": 1, "network_workers": 0}, model={"pool_categories": pool}
    )
    report = run_accuracy(
        settings, small_csv, folds=2, fold_days=7, seeds=[1], statistical=False, progress=lambda _: None
    )
    categories = [c.category for c in report.categories]
    assert len(categories) == 3
    cutoffs = [pd.Timestamp(day) for day in report.categories[0].cutoffs]
    if pool:
        assert len(trained) == len(cutoffs)  # once per fold, not once per category
        for windows, cutoff in zip(trained, cutoffs, strict=True):
            assert [w.category for w in windows] == categories
            assert all(w.dates[-1] == cutoff - pd.Timedelta(days=1) for w in windows)
        assert list(report.to_dict()["shared_networks_seconds"]) == [str(c.date()) for c in cutoffs]
    else:
        assert len(trained) == len(cutoffs) * len(categories)
        assert all(len(windows) == 1 for windows in trained)
        assert report.to_dict()["shared_networks_seconds"] == {}


def test_statistical_references_forecast_from_every_origin() -> None:
    rng = np.random.default_rng(0)
    days = np.arange(140)
    values = 100 + 20 * np.sin(2 * np.pi * days / 7) + rng.normal(0, 2, len(days))
    origins = np.arange(126, 133, dtype=np.int64)
    paths = statistical_paths(values, 126, origins, 7, 7)
    assert set(paths) == {"auto_ets", "auto_arima"}
    for path in paths.values():
        assert path.shape == (7, 7)
        assert np.all(np.isfinite(path))
        # a weekly sine is easy: both references must be far better than the series' spread, every step
        first_origin = path[0]
        errors = first_origin - values[126:133]
        assert float(np.sqrt(np.mean(errors**2))) < 0.5 * float(np.std(values))
    with pytest.raises(ValueError, match="cut-off"):
        statistical_paths(values, 127, origins, 7, 7)


def test_the_known_level_is_exact_on_a_level_series_with_a_weekly_profile() -> None:
    """Knowing the level, a noise-free weekly series is forecast exactly; a burst of one day is not
    seen by the day itself (it is left out of its own level)."""
    profile = np.array([0.6, 0.8, 1.0, 1.0, 1.2, 1.6, 0.8])
    values = 100.0 * np.tile(profile, 20)
    targets = np.arange(30, 110)
    assert centred_level(values, targets) == pytest.approx(values[targets], rel=1e-9)
    burst = values.copy()
    burst[70] *= 10
    assert centred_level(burst, np.array([70]))[0] < 2 * values[70]
