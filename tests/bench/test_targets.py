"""Issue 23's targets read from an accuracy report: the signal test sets the bound, every miss is named."""

from __future__ import annotations

from typing import Any

import pytest

from salescast.bench.targets import TargetsError, binomial_tail, check_targets, targets_markdown


def _report(
    *,
    best: float = 90.0,
    model_to_best: float = 0.96,
    to_ma14: tuple[float, float] = (0.95, 0.99),
    coverage: tuple[float, float] = (80.5, 94.0),
    rejected: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """A report with one horizon, two categories and the numbers that matter to the targets."""
    overall = {
        "references_rmse": {"seasonal_naive": 120.0, "ma14": 100.0, "AutoETS": best},
        "best_reference": "AutoETS" if best < 100.0 else "ma14",
        "model_to_best": {"mean": model_to_best, "sd": 0.001},
        "coverage": {"80": coverage[0], "95": coverage[1]},
        "kupiec_rejected_categories": {"80": rejected[0], "95": rejected[1]},
    }
    categories = {
        name: {"h1": {"model_to_ma14": {"mean": ratio, "sd": 0.0}}}
        for name, ratio in zip(("Beauty", "Toys"), to_ma14, strict=True)
    }
    return {"overall": {"h1": overall}, "categories": categories}


def test_where_the_reference_beats_ma14_by_5_percent_the_model_must_reach_097() -> None:
    (found,) = check_targets(_report(best=95.0, model_to_best=0.975))
    assert found.has_signal and found.model_bound == 0.97
    assert found.missed() == ["model / best 0.975 > 0.97"]
    (found,) = check_targets(_report(best=95.0, model_to_best=0.9704))  # 0.970 as reported: met
    assert found.missed() == []


def test_on_noise_like_data_level_with_the_reference_is_enough() -> None:
    (found,) = check_targets(_report(best=96.0, model_to_best=0.999))
    assert not found.has_signal and found.model_bound == 1.00
    assert found.best_to_ma14 == pytest.approx(0.96)
    assert found.missed() == []
    (found,) = check_targets(_report(best=96.0, model_to_best=1.004))
    assert found.missed() == ["model / best 1.004 > 1.00"]


def test_a_category_behind_ma14_and_coverage_off_by_more_than_3_points_are_named() -> None:
    (found,) = check_targets(_report(to_ma14=(1.031, 0.99), coverage=(76.5, 95.0)))
    assert (found.worst_category, found.worst_to_ma14) == ("Beauty", 1.031)
    assert found.missed() == ["Beauty 1.031 × MA14", "80 % coverage 76.5"]
    (found,) = check_targets(_report(coverage=(83.04, 92.0)))  # read as reported: 83.0 and 92.0
    assert found.missed() == []


def test_kupiec_rejections_count_against_the_targets_only_beyond_chance() -> None:
    (found,) = check_targets(_report(rejected=(1, 0)))  # 1 of 4 tests: chance gives it often
    assert found.kupiec_tests == 4 and found.kupiec_by_chance == pytest.approx(1 - 0.95**4)
    assert found.missed() == []
    (found,) = check_targets(_report(rejected=(2, 2)))
    assert found.missed() == ["Kupiec rejects 4 of 4, more than chance"]


def test_binomial_tail_matches_the_closed_form() -> None:
    assert binomial_tail(0, 80, 0.05) == 1.0
    assert binomial_tail(80, 80, 0.05) == pytest.approx(0.05**80)
    # 4 of 80 tests rejecting by chance: scipy.stats.binom.sf(3, 80, 0.05) = 0.57155
    assert binomial_tail(4, 80, 0.05) == pytest.approx(0.57155, abs=1e-5)


def test_the_table_has_a_row_per_report_and_horizon_with_its_verdict() -> None:
    table = targets_markdown([("store.csv", _report()), ("shop.csv", _report(best=99.0, model_to_best=1.01))])
    rows = table.splitlines()[2:]
    assert len(rows) == 2
    assert rows[0].startswith("| store.csv | h=1 | 0.900 (AutoETS; signal) | 0.960 (≤ 0.97) |")
    assert rows[0].endswith("| met |")
    assert "noise-like" in rows[1] and rows[1].endswith("| missed: model / best 1.010 > 1.00 |")


def test_a_report_without_the_numbers_says_what_is_missing() -> None:
    report = _report()
    del report["overall"]["h1"]["references_rmse"]["ma14"]
    with pytest.raises(
        TargetsError, match=r"cannot check the targets \(KeyError: 'ma14'\); expected an accuracy"
    ):
        check_targets(report)
