"""`salescast bench compare`: two real accuracy runs, before and after a change, number for number."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.sample_data import write_sample
from salescast.bench.accuracy import run_accuracy
from salescast.bench.accuracy_compare import CompareError, compare_accuracy, comparison_markdown
from salescast.cli.main import main
from tests.conftest import make_test_settings


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same small run twice: intervals from the validation tail alone, then widened by the
    history (`forecast.interval_history`) — the forecasts are the same, the intervals are not."""
    root = tmp_path_factory.mktemp("compare")
    data = write_sample(root / "small.csv", 3, "2024-01-01", 0.4)
    paths = []
    for history in (False, True):
        settings = make_test_settings(
            root / str(history),
            training={"max_epochs": 1},
            data={"categories": ["Beauty", "Clothing"]},
            forecast={"interval_history": history},
        )
        report = run_accuracy(
            settings, data, folds=2, fold_days=7, seeds=[1], statistical=False, progress=lambda _: None
        )
        path = root / str(history) / "accuracy-small.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report.to_dict()), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def _load(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def test_a_change_to_the_intervals_moves_them_and_leaves_the_forecasts(reports: tuple[Path, Path]) -> None:
    comparison = compare_accuracy(_load(reports[0]), _load(reports[1]))
    rows = {(row["scope"], row["horizon"], row["metric"]): row for row in comparison["rows"]}
    for scope in ("overall", "Beauty", "Clothing"):
        for horizon in ("h1", "h7"):
            assert not rows[scope, horizon, "model / best"]["moved"]  # the same seeded forecasts
    interval_rows = [row for key, row in rows.items() if "interval score" in key[2]]
    assert any(row["moved"] for row in interval_rows)
    assert comparison["moved"] == sum(row["moved"] for row in comparison["rows"]) > 0
    table = comparison_markdown(comparison)
    assert "| overall | h1 | model / best |" in table and "unchanged" in table


def test_the_command_writes_the_comparison_and_refuses_runs_that_differ(
    reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["bench", "compare", str(reports[0]), str(reports[1]), "--out", str(out)]) == 0
    assert "numbers moved" in (out / "compare-accuracy-small.md").read_text(encoding="utf-8")
    assert json.loads((out / "compare-accuracy-small.json").read_text(encoding="utf-8"))["rows"]

    other = _load(reports[1]) | {"folds": 3}
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    assert main(["bench", "compare", str(reports[0]), str(tmp_path / "other.json")]) == 2
    assert "folds 2 vs 3" in capsys.readouterr().err
    assert main(["bench", "compare", str(reports[0]), str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "data.csv").write_text("Date,Amount\n", encoding="utf-8")
    assert main(["bench", "compare", str(tmp_path / "data.csv"), str(reports[1])]) == 2
    assert "not a JSON report" in capsys.readouterr().err


def test_reports_of_other_files_or_categories_are_not_compared(reports: tuple[Path, Path]) -> None:
    before = _load(reports[0])
    elsewhere = before | {"data_file": "/elsewhere/other.csv"}
    with pytest.raises(CompareError, match=r"different files \(small.csv vs other.csv\)"):
        compare_accuracy(before, elsewhere)
    fewer = copy.deepcopy(before)
    del fewer["categories"]["Clothing"]
    with pytest.raises(CompareError, match="only in one: Clothing"):
        compare_accuracy(before, fewer)
    assert compare_accuracy(before, before)["moved"] == 0


def test_the_targets_command_checks_real_reports(
    reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["bench", "targets", str(reports[0]), str(reports[1]), "--out", str(out)]) == 0
    found = json.loads((out / "targets.json").read_text(encoding="utf-8"))
    assert list(found) == [str(reports[0]), str(reports[1])]  # one file twice: told apart by path
    for horizons in found.values():
        assert [entry["horizon"] for entry in horizons] == [1, 7]
        assert all(entry["model_bound"] in (0.97, 1.00) and entry["kupiec_tests"] == 4 for entry in horizons)
    table = (out / "targets.md").read_text(encoding="utf-8")
    assert table.count("| h=1 |") == 2 and "best / MA14" in table
    assert main(["bench", "targets", str(tmp_path / "missing.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = _load(reports[0])
    del broken["overall"]["h7"]["references_rmse"]["ma14"]
    (tmp_path / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    assert main(["bench", "targets", str(tmp_path / "broken.json")]) == 2
    assert (
        f"{tmp_path / 'broken.json'}: cannot check the targets (KeyError: 'ma14')" in capsys.readouterr().err
    )
