"""The accuracy bench's optimum on generated profiles: the right file's expectation, on the right days."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.accuracy import HORIZONS, OPTIMUM, AccuracyReport
from salescast.bench.optimum import profile_optimum
from salescast.bench.report import accuracy_markdown
from salescast.cli.bench_cmd import profile_sample
from tests.conftest import make_test_settings
from tests.support.accuracy_reports import made_up_category


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_test_settings(tmp_path, sample={"seed": 5, "start": "2022-03-01", "years": 0.5})


@pytest.mark.parametrize("profile", ["store", "retailer"])
def test_a_profiles_optimum_is_dated_like_its_file(settings: Settings, tmp_path: Path, profile: str) -> None:
    """Every category of the file `--profile` writes gets its expectation on every one of its days;
    one day ahead it misses the sales by less than yesterday's sales do."""
    data, scored = profile_sample(profile, tmp_path, settings)  # type: ignore[arg-type]
    optimum = profile_optimum(profile, scored, data)  # type: ignore[arg-type]
    assert optimum is not None
    sales = load_daily_sales(scored.data, data)
    assert set(sales) <= set(optimum)
    for name, series in sales.items():
        assert set(optimum[name]) == set(HORIZONS)
        expected = optimum[name][1].reindex(series.index)
        assert not expected.isna().any(), name
        actual = series.to_numpy(dtype=np.float64)
        naive = np.sqrt(np.mean((actual[1:] - actual[:-1]) ** 2))
        assert np.sqrt(np.mean((expected.to_numpy()[1:] - actual[1:]) ** 2)) < naive, name


def test_the_bundled_sample_has_an_optimum_only_while_it_is_the_generated_one(
    settings: Settings, tmp_path: Path
) -> None:
    from core.sample_data import write_sample

    sample = settings.sample
    data = write_sample(tmp_path / "sales.csv", sample.seed, sample.start, sample.years)
    assert profile_optimum("default", settings, data) is not None
    data.write_text(data.read_text().replace(",Beauty,", ",Toys,", 1))  # the user's own sales now
    assert profile_optimum("default", settings, data) is None
    assert profile_optimum("sparse", settings, data) is None  # not a profile the bench writes


def test_a_report_whose_every_category_has_an_optimum_shows_it_overall() -> None:
    categories = [made_up_category(f"c{i}", 5.0, 5.0, i) for i in range(2)]
    for category in categories:
        for h in HORIZONS:  # the truth a little off: half the references' error
            noise = np.random.default_rng(h).normal(0.0, 2.5, len(category.actual[h]))
            category.references[h] = {**category.references[h], OPTIMUM: category.actual[h] + noise}
    report = AccuracyReport("generated.csv", 1, 400, 56, [1, 2], categories)
    ratio = report.overall_optimum(1)
    best = report.best_reference(1)
    overall = report.overall_rmse(1)
    assert ratio is not None and ratio == pytest.approx(overall[OPTIMUM] / overall[best]) and ratio < 0.7
    assert best != OPTIMUM  # never the bar the model is held to
    payload = report.to_dict()
    assert payload["overall"]["h7"]["optimum_to_best"] == pytest.approx(report.overall_optimum(7))
    markdown = accuracy_markdown(report)
    assert "_optimum: not a forecast" in markdown
    header = next(line for line in markdown.splitlines() if line.startswith("| horizon |"))
    assert "| known level | optimum | coverage |" in header
    assert f"| {ratio:.3f} |" in next(line for line in markdown.splitlines() if line.startswith("| h=1 |"))


def test_optimum_series_are_dated_by_the_generated_days(settings: Settings, tmp_path: Path) -> None:
    data, scored = profile_sample("store", tmp_path, settings)
    optimum = profile_optimum("store", scored, data)
    assert optimum is not None
    first = next(iter(optimum.values()))[1]
    assert isinstance(first.index, pd.DatetimeIndex) and first.index[0] == pd.Timestamp("2022-03-01")
    assert (first[first.index.dayofweek == 6] == 0.0).all()  # the store is closed on Sundays
