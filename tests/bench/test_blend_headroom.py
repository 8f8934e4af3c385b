"""Blend headroom: the best shares of the model against the statistical references, on known errors."""

from __future__ import annotations

import numpy as np
import pytest

from salescast.bench.accuracy import AccuracyReport, CategoryAccuracy
from salescast.bench.blend_headroom import blend_headroom
from salescast.bench.report import accuracy_markdown
from tests.support.accuracy_reports import made_up_category


def _bar(categories: list[CategoryAccuracy]) -> float:
    return float(np.mean([c.reference_rmse(1)[c.best_reference(1)] for c in categories]))


def test_independent_errors_of_one_size_blend_half_and_half() -> None:
    categories = [made_up_category(f"c{i}", 5.0, 5.0, i) for i in range(3)]
    found = {entry.partner: entry for entry in blend_headroom(categories, 1, _bar(categories))}
    assert set(found) == {"auto_ets", "auto_arima", "auto_ets + auto_arima"}
    alone = np.mean([np.mean(c.model_rmse(1)) for c in categories]) / _bar(categories)
    assert found["auto_ets"].model_share == pytest.approx(0.5, abs=0.1)
    # two independent errors of one size, averaged: 1/√2 of either
    assert found["auto_ets"].model_to_best == pytest.approx(alone / np.sqrt(2), rel=0.05)
    # the mean of two partners is the better partner: the model gets about a third
    assert found["auto_ets + auto_arima"].model_share == pytest.approx(1 / 3, abs=0.1)
    for entry in found.values():
        assert entry.per_category_model_to_best <= entry.model_to_best


def test_a_model_far_better_than_the_partners_keeps_its_whole_share_and_each_category_its_own() -> None:
    categories = [made_up_category("good", 1.0, 10.0, 1), made_up_category("poor", 10.0, 1.0, 2)]
    [ets, *_] = blend_headroom(categories, 7, _bar(categories))
    # one share for both cannot suit both; each category's own share (~1 and ~0) does much better
    assert 0.2 < ets.model_share < 0.8
    assert ets.per_category_model_to_best < 0.7 * ets.model_to_best


def test_a_partner_a_category_lacks_is_left_out() -> None:
    categories = [made_up_category("a", 5.0, 5.0, 1), made_up_category("b", 5.0, 5.0, 2)]
    del categories[1].references[1]["auto_arima"]
    assert [entry.partner for entry in blend_headroom(categories, 1, _bar(categories))] == ["auto_ets"]


def test_the_report_tabulates_the_headroom_for_both_horizons() -> None:
    categories = [made_up_category("a", 5.0, 5.0, 1), made_up_category("b", 5.0, 5.0, 2)]
    report = AccuracyReport("sales.csv", 1, 28, 56, [1, 2], categories)
    markdown = accuracy_markdown(report)
    assert "**Blend headroom**" in markdown
    assert "| auto_ets + auto_arima | " in markdown and "h=7: model's share" in markdown
    headroom = report.to_dict()["overall"]["h7"]["blend_headroom"]
    assert set(headroom["auto_arima"]) == {"model_share", "model_to_best", "per_category_model_to_best"}
