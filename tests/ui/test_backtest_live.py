"""The Backtest tab's live-accuracy line: what it says before, while and after a version's days are scored."""

from __future__ import annotations

from ui.api_models import LiveAccuracy
from ui.backtest_tab import live_line


def _live(served: dict[str, object] | None) -> LiveAccuracy:
    return LiveAccuracy.model_validate(
        {"category": "Beauty", "served_version": "20261205.101442", "min_days": 7, "served": served}
    )


SCORE = {
    "version": "20261205.101442",
    "days": 9,
    "rmse": 1234.5,
    "mae": 1000.0,
    "ratio_to_seasonal_naive": 0.8123,
    "coverage": {"80": 0.777, "95": 1.0},
    "first_day": "2024-12-16",
    "last_day": "2024-12-24",
    "ready": True,
}


def test_a_scored_version_reads_as_rmse_ratio_and_coverage() -> None:
    line = live_line(_live(SCORE))
    assert line == (
        "Live accuracy of 20261205.101442: 9 days scored from 2024-12-16 to 2024-12-24: RMSE 1,234.50, "
        "0.81× the seasonal naive's RMSE; 80 % interval held 78 %, 95 % interval held 100 %."
    )


def test_too_few_days_say_when_they_count() -> None:
    assert "(counts from 7 days)" in live_line(_live({**SCORE, "days": 3, "ready": False}))


def test_nothing_scored_and_no_route_are_said_plainly() -> None:
    assert "has been scored yet" in live_line(_live(None))
    assert live_line(None) == "Live accuracy: not available from this gateway."
