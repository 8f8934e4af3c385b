"""`salescast bench reconciliation` on a small generated file: every series scored on the same days."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.sample_data import write_sample
from salescast.bench.reconciliation import TOTAL, reconciliation_markdown, run_reconciliation
from salescast.bench.rolling_origin import BenchDataError
from tests.conftest import make_test_settings
from training.reconciliation import METHODS


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("reconcile") / "small.csv", 3, "2024-01-01", 0.6)


def test_every_series_gets_its_rmse_and_each_method_s_ratio(tmp_path: Path, small_csv: Path) -> None:
    settings = make_test_settings(tmp_path)
    progress: list[str] = []
    report = run_reconciliation(settings, small_csv, folds=2, fold_days=7, progress=progress.append)
    assert [row["series"] for row in report["series"]] == [TOTAL, "Beauty", "Clothing", "Electronics"]
    for row in report["series"]:
        assert row["rmse"] > 0
        assert set(row["ratio"]) == set(METHODS)
        assert all(0.5 < ratio < 2.0 for ratio in row["ratio"].values())
    assert len(report["mint_shrinkage"]) == 2 and all(0 <= x <= 1 for x in report["mint_shrinkage"])
    assert len(progress) == 2
    table = reconciliation_markdown(report)
    assert "| total |" in table and "mint_shrink" in table


def test_a_file_of_one_category_says_there_is_nothing_to_reconcile(tmp_path: Path, small_csv: Path) -> None:
    one = tmp_path / "one.csv"
    frame = pd.read_csv(small_csv)
    frame[frame["Product Category"] == "Beauty"].to_csv(one, index=False)
    with pytest.raises(BenchDataError, match="at least 2 categories"):
        run_reconciliation(make_test_settings(tmp_path), one, folds=2, fold_days=7, progress=lambda _: None)
