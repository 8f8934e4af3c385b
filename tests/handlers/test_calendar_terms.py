"""Calendar terms in the handler's steps: a window divided by its days' factors, the forecast and its
interval multiplied by the target days' factors, and a note when no date was sent."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import torch
from torch import nn

from handlers.calendar_terms import (
    NOT_SENT,
    NOT_TRAINED,
    YEAR_DAYS,
    check_calendar,
    date_uses,
    day_factor,
    request_factors,
    year_position,
)
from handlers.forecast_steps import answer_batch, forecast_paths, prepare_stats
from handlers.request_parsing import parse_batch

N = 7
LAST = date(2024, 12, 24)


class WindowMean(nn.Module):
    """Tomorrow = the window's level (z's mean is 0 in window-level units)."""

    def forward(self, z: torch.Tensor, level: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
        return z.mean(dim=1)


def calendar_block(**changes: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "country": "US",
        "holidays": {"2024-12-25": 0.1, "2024-12-21": 0.5},
        "holidays_until": "2025-12-31",
        "yearly": None,
        "month_end": None,
        "floor": 0.2,
    }
    return block | changes


def stats_with(block: dict[str, Any] | None) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "category": "Toys",
        "version": "20240101.000000",
        "window_size": N,
        "mean": 10.0,
        "std": 2.0,
        "format_version": 2,
        "model_input": "normalized",
        "max_horizon": 3,
        "normalization": {"method": "window_level", "level_floor": 1.0, "cv": 0.2, "non_negative": True},
        "intervals": {
            "levels": [80],
            "quantiles": [[1.0, 1.0, 1.0]],
            "total_quantiles": [[1.0, 2.0, 3.0]],
            "scale": "none",
            "scale_floor": 0.0,
            "default_levels": [80],
            "non_negative": True,
        },
    }
    if block is not None:
        stats["calendar"] = block
    return prepare_stats(stats)


def answers(stats: dict[str, Any], bodies: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    batch = parse_batch([{"body": body} for body in bodies], stats)
    paths = forecast_paths(torch.jit.script(WindowMean()), batch.windows, stats, batch.horizon)
    return answer_batch(batch, paths, stats)


def test_a_day_factor_multiplies_its_terms() -> None:
    yearly = [1.0] * YEAR_DAYS
    yearly[year_position(date(2023, 12, 25))] = 2.0
    block = calendar_block(yearly=yearly, month_end={"days": 2, "factor": 1.5})
    assert day_factor(block, date(2024, 12, 25)) == pytest.approx(0.2)  # holiday × yearly
    assert day_factor(block, date(2024, 12, 31)) == pytest.approx(1.5)  # the month's last day
    assert day_factor(block, date(2024, 12, 29)) == 1.0
    assert year_position(date(2024, 2, 29)) == 59
    assert year_position(date(2023, 3, 1)) == year_position(date(2024, 3, 1)) == 60
    before, ahead = request_factors(block, LAST, N, 2)
    assert before == [1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0]  # Dec 18..24, Dec 21 a holiday
    assert ahead == pytest.approx([0.2, 1.0])


def test_the_window_is_adjusted_and_the_forecast_multiplied_back() -> None:
    stats = stats_with(calendar_block())
    window = [10.0, 10.0, 10.0, 5.0, 10.0, 10.0, 10.0]  # Dec 21 sold half: a normal day adjusted
    [(status, answer)] = answers(stats, [{"sales": window, "horizon": 2, "last_date": "2024-12-24"}])
    assert status == 200
    assert [step["prediction"] for step in answer["forecast"]] == pytest.approx([1.0, 10.0])
    first = answer["forecast"][0]["intervals"][0]
    assert (first["lower"], first["upper"]) == pytest.approx((0.9, 1.1))  # 10 ± 1, times 0.1
    assert answer["calendar"] == {"applied": True, "last_date": "2024-12-24", "uses": ["holidays (US)"]}
    assert answer["total"]["prediction"] == pytest.approx(11.0)
    total = answer["total"]["intervals"][0]
    assert (total["lower"], total["upper"]) == pytest.approx((11.0 - 2.0 * 0.55, 11.0 + 2.0 * 0.55))


def test_without_a_date_the_window_serves_alone_and_says_so() -> None:
    stats = stats_with(calendar_block())
    window = [10.0, 10.0, 10.0, 5.0, 10.0, 10.0, 10.0]
    dated, plain = answers(stats, [{"sales": window, "last_date": "2024-12-24"}, {"sales": window}])
    assert dated[1]["prediction"] == pytest.approx(1.0)
    assert plain[1]["prediction"] == pytest.approx(sum(window) / N)
    assert plain[1]["calendar"] == {"applied": False, "note": NOT_SENT}


def test_a_version_without_calendar_terms_answers_as_before() -> None:
    stats = stats_with(None)
    [(_, plain)] = answers(stats, [{"sales": [10.0] * N}])
    assert "calendar" not in plain
    [(_, dated)] = answers(stats, [{"sales": [10.0] * N, "last_date": "2024-12-24"}])
    assert dated["prediction"] == pytest.approx(10.0)
    assert dated["calendar"] == {"applied": False, "note": NOT_TRAINED}


def test_days_past_the_known_holidays_get_a_note() -> None:
    stats = stats_with(calendar_block(holidays_until="2024-12-25"))
    [(_, answer)] = answers(stats, [{"sales": [10.0] * N, "horizon": 3, "last_date": "2024-12-24"}])
    assert answer["calendar"]["applied"] is True
    assert "2024-12-25" in answer["calendar"]["note"]


def test_a_day_the_shop_was_closed_on_is_forecast_0_and_named() -> None:
    stats = stats_with(calendar_block(holidays={"2024-12-25": 0.0}))
    [(_, answer)] = answers(stats, [{"sales": [10.0] * N, "horizon": 3, "last_date": "2024-12-23"}])
    assert [step["prediction"] for step in answer["forecast"]] == pytest.approx([10.0, 0.0, 10.0])
    note = answer["calendar"]["note"]
    assert "closed on 2024-12-25" in note and "2024-12-24" not in note
    [(_, after)] = answers(stats, [{"sales": [10.0] * N, "horizon": 3, "last_date": "2024-12-25"}])
    assert "note" not in after["calendar"]
    past = stats_with(calendar_block(holidays={"2024-12-25": 0.0}, holidays_until="2024-12-25"))
    [(_, both)] = answers(past, [{"sales": [10.0] * N, "horizon": 3, "last_date": "2024-12-24"}])
    assert (
        "closed on 2024-12-25" in both["calendar"]["note"] and "after 2024-12-25" in both["calendar"]["note"]
    )


@pytest.mark.parametrize("value", ["24/12/2024", 20241224, "2024-13-01"])
def test_a_bad_last_date_is_a_400_naming_the_format(value: Any) -> None:
    stats = stats_with(calendar_block())
    [(status, answer)] = answers(stats, [{"sales": [10.0] * N, "last_date": value}])
    assert status == 400
    assert "last_date" in answer["error"]
    assert "ISO date" in answer["error"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"holidays": {"2024-12-25": -1}}, "calendar.holidays"),
        ({"holidays": {"Christmas": 0.1}}, "ISO dates"),
        ({"yearly": [1.0] * 365}, "calendar.yearly"),
        ({"month_end": {"days": 9, "factor": 1.0}}, "calendar.month_end"),
        ({"floor": 0}, "calendar.floor"),
    ],
)
def test_a_bad_calendar_block_is_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_calendar(calendar_block(**changes), "norm_stats.json")


@pytest.mark.parametrize(
    ("block", "reads_weekday", "uses"),
    [
        (None, True, ["weekday"]),
        (calendar_block(), False, ["holidays (US)"]),
        (
            calendar_block(yearly=[1.0] * 366, month_end={"days": 2, "factor": 1.1}),
            True,
            ["weekday", "holidays (US)", "yearly", "month end"],
        ),
        (calendar_block(holidays={}, country="", yearly=[1.0] * 366), False, ["yearly"]),
    ],
)
def test_the_answer_names_what_the_date_drove(
    block: dict[str, Any] | None, reads_weekday: bool, uses: list[str]
) -> None:
    assert date_uses(block, reads_weekday) == uses
