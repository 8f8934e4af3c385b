"""The deploy policy as a pure function of `metrics.json` contents."""

from __future__ import annotations

from typing import Any

import pytest

from core.contracts.metrics import VersionMetrics
from serving.deploy_policy import decide_deploy


def metrics(model: float, seasonal: float, served: float | None = None) -> VersionMetrics:
    def scores(rmse: float) -> dict[str, float]:
        return {"mae": rmse * 0.8, "rmse": rmse, "smape": 40.0, "mase": 0.9, "rmsse": 0.9}

    test = {
        "model": scores(model),
        "naive": scores(seasonal * 1.1),
        "seasonal_naive": scores(seasonal),
        "moving_average": scores(seasonal * 0.9),
    }
    result: dict[str, Any] = {
        "category": "Beauty",
        "version": "20261126.101500",
        "window_size": 14,
        "n_test": 107,
        "test_start": "2024-09-15",
        "test_end": "2024-12-30",
        "test": test,
    }
    if served is not None:
        test["served"] = scores(served)
        result["served_version"] = "20261125.090000"
    return VersionMetrics.model_validate(result)


def test_if_better_deploys_a_better_model() -> None:
    decision = decide_deploy("if_better", metrics(500.0, 800.0, served=600.0), "20261125.090000")
    assert decision.deploy
    assert "500 < seasonal-naive 800 and <= served 600" in decision.reason


def test_if_better_keeps_the_served_version_when_the_new_one_is_worse() -> None:
    decision = decide_deploy("if_better", metrics(650.0, 800.0, served=600.0), "20261125.090000")
    assert not decision.deploy
    assert decision.reason == (
        "kept served 20261125.090000: test RMSE 650 is worse than served 600 on the same test days"
    )


def test_if_better_refuses_a_model_that_loses_to_seasonal_naive() -> None:
    decision = decide_deploy("if_better", metrics(900.0, 800.0, served=1000.0), "20261125.090000")
    assert not decision.deploy
    assert "test RMSE 900 is not below seasonal-naive 800" in decision.reason


def test_a_tie_with_the_served_version_deploys() -> None:
    assert decide_deploy("if_better", metrics(600.0, 800.0, served=600.0), "v1").deploy


def test_if_better_without_a_served_comparison_keeps_serving() -> None:
    decision = decide_deploy("if_better", metrics(500.0, 800.0), "20261125.090000")
    assert not decision.deploy
    assert "no RMSE of the served version" in decision.reason


@pytest.mark.parametrize("policy", ["if_better", "always"])
def test_first_model_is_always_deployed_and_says_how_it_compares(policy: str) -> None:
    decision = decide_deploy(policy, metrics(900.0, 800.0), None)  # type: ignore[arg-type]
    assert decision.deploy
    assert decision.reason == "first model of this category, deployed; test RMSE 900, seasonal-naive 800"


def test_always_deploys_a_worse_model() -> None:
    decision = decide_deploy("always", metrics(900.0, 800.0, served=100.0), "v1")
    assert decision.deploy
    assert "served v1 100" in decision.reason


def test_never_deploys_even_the_first_model() -> None:
    decision = decide_deploy("never", metrics(100.0, 800.0), None)
    assert not decision.deploy
    assert decision.reason.startswith("deploy policy is `never`")
