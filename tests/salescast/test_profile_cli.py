"""`--profile multiyear` for `data sample` and `bench accuracy`, `--profile retailer` for the bench:
the options parse, the file written is the generator's, the retailer is scored on what can be."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.retailer_sample import retailer_kinds
from core.sales_data import load_daily_sales
from core.sample_data import PROFILE_YEARS, sample_csv_bytes
from core.settings import load_settings
from salescast.bench.rolling_origin import BenchDataError, make_folds, min_train_days
from salescast.cli.bench_cmd import profile_sample
from salescast.cli.main import build_parser, main

SETTINGS = load_settings(environ={})


def test_data_sample_multiyear_uses_the_configured_country(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed, start = SETTINGS.sample.seed, SETTINGS.sample.start
    us, gb = tmp_path / "us.csv", tmp_path / "gb.csv"
    assert main(["data", "sample", "--out", str(us), "--profile", "multiyear", "--years", "1"]) == 0
    assert "profile multiyear" in capsys.readouterr().out
    assert us.read_bytes() == sample_csv_bytes(seed, start, 1.0, profile="multiyear", holiday_country="US")
    monkeypatch.setenv("SALESCAST_DATA__HOLIDAY_COUNTRY", "GB")
    assert main(["data", "sample", "--out", str(gb), "--profile", "multiyear", "--years", "1"]) == 0
    assert gb.read_bytes() == sample_csv_bytes(seed, start, 1.0, profile="multiyear", holiday_country="GB")
    assert gb.read_bytes() != us.read_bytes()


@pytest.mark.parametrize("bench", ["accuracy", "reconciliation"])
@pytest.mark.parametrize("profile", ["multiyear", "retailer", "store", "shop", "default"])
def test_bench_accuracy_accepts_the_profile(bench: str, profile: str) -> None:
    args = build_parser().parse_args(["bench", bench, "--profile", profile, "--folds", "12"])
    assert (args.profile, args.folds) == (profile, 12)


def test_bench_accuracy_rejects_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench", "accuracy", "--profile", "sparse"])
    assert exit_info.value.code == 2
    assert "multiyear" in capsys.readouterr().err  # the choices are listed


def test_bench_writes_the_multiyear_sample(tmp_path: Path) -> None:
    path, settings = profile_sample("multiyear", tmp_path, SETTINGS)
    assert path == tmp_path / "sample-multiyear.csv"
    sample = SETTINGS.sample
    assert path.read_bytes() == sample_csv_bytes(
        sample.seed, sample.start, PROFILE_YEARS["multiyear"], profile="multiyear", holiday_country="US"
    )
    assert settings == SETTINGS
    sales = load_daily_sales(settings.data, path)
    assert len(sales) == 4
    folds = make_folds(len(sales["Toys"]), 12, 28, min_train_days(settings.window.size), "Toys")
    assert len(folds) == 12  # a year of monthly origins fits, with three years before the first


def test_bench_scores_the_retailer_categories_that_have_a_history(tmp_path: Path) -> None:
    path, settings = profile_sample("retailer", tmp_path, SETTINGS)
    assert path == tmp_path / "sample-retailer.csv"
    every = load_daily_sales(settings.data.model_copy(update={"categories": "auto"}), path)
    assert len(every) == SETTINGS.bench.retailer_categories == 8
    assert retailer_kinds(8).count("launched") == 1
    scored = load_daily_sales(settings.data, path)
    assert sorted(scored) == sorted(name for name in every if not name.startswith("Launched"))
    bench, needed = SETTINGS.bench, min_train_days(SETTINGS.window.size)
    for name, series in scored.items():
        assert len(make_folds(len(series), bench.folds, bench.fold_days, needed, name)) == bench.folds
    (launched,) = set(every) - set(scored)
    with pytest.raises(BenchDataError):  # why it is left out
        make_folds(len(every[launched]), bench.folds, bench.fold_days, needed, launched)
