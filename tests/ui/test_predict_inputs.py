"""The Predict tab's box and table, the far-outside check and the seasonal-naive line, without a gateway."""

from __future__ import annotations

from typing import Any

import pytest

from ui.api_models import CalendarUse
from ui.downloads import neutralize_formulas, write_csv
from ui.input_parsing import InputError
from ui.predict_chart import seasonal_naive
from ui.predict_handlers import PredictHandlers, calendar_line
from ui.predict_inputs import (
    FilledInputs,
    entry_check,
    far_outside,
    horizon_within,
    outlier_warning,
    parse_horizon,
    parse_last_date,
)
from ui.updates import skip

HANDLERS = PredictHandlers(client=None)  # type: ignore[arg-type]  # these handlers never call the gateway


def test_box_and_table_agree_when_an_entry_is_not_a_number() -> None:
    """Issue 13: after an edit that fails to parse, the table kept the old values; now it shows the
    entries as typed, and the message names the one that is not a number."""
    table, check, synced = HANDLERS.text_to_table("1, abc, 3", None)
    assert table["Sales"].tolist() == ["1", "abc", "3"] and synced == ("1", "abc", "3")
    assert "value 2 (&#x27;abc&#x27;) is not a number" in check and "sc-error" in check
    assert HANDLERS.table_to_text(table) == ("1, abc, 3", check, ("1", "abc", "3"))
    table.loc[1, "Sales"] = "2"
    assert HANDLERS.table_to_text(table, synced) == ("1, 2, 3", "", ("1", "2", "3"))


def test_table_edits_come_back_to_the_box_and_keep_their_dates() -> None:
    filled = FilledInputs("Beauty", ("2024-12-29", "2024-12-30"))
    table, check, synced = HANDLERS.text_to_table("10, 20", filled)
    assert table.values.tolist() == [["2024-12-29", "10"], ["2024-12-30", "20"]] and check == ""
    table.loc[1, "Sales"] = "25.5"
    assert HANDLERS.table_to_text(table, synced) == ("10, 25.5", "", ("10", "25.5"))


def test_a_table_edit_the_box_already_holds_writes_nothing() -> None:
    """The table sends one cell edit twice (on Enter and when the cell loses focus); the second must
    not overwrite what the user has typed in the box since (CI caught the box reverting)."""
    table, _, synced = HANDLERS.text_to_table("1, 2.5, 3", None)
    table.loc[0, "Sales"] = "40"
    assert HANDLERS.table_to_text(table, synced) == ("40, 2.5, 3", "", ("40", "2.5", "3"))
    synced = ("40", "2.5", "3")  # the server's state after the first request
    assert HANDLERS.table_to_text(table, synced) == (skip(), skip(), skip())  # the echo
    table.loc[1, "Sales"] = ""  # a blanked middle cell is an edit the box does not hold yet
    assert HANDLERS.table_to_text(table, synced) == ("40, , 3", entry_check("40, , 3"), ("40", "", "3"))


@pytest.mark.parametrize(
    ("values", "flagged"),
    [
        ([100.0, 2000.0, 50.0], []),
        ([1e12, 100.0], [(1, 1e12)]),
        ([-1.0, 100.0], [(1, -1.0)]),
        ([5000.0 + 2 * 5000.0], [(1, 15000.0)]),
    ],
)
def test_far_outside_the_history(values: list[float], flagged: list[tuple[int, float]]) -> None:
    history = [0.0, 1000.0, 5000.0]
    assert far_outside(values, history, factor=1.0) == flagged


def test_seasonal_naive_repeats_the_last_week() -> None:
    inputs = [float(day) for day in range(1, 15)]
    assert seasonal_naive(inputs, 1) == [8.0]
    assert seasonal_naive(inputs, 9) == [8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 8.0, 9.0]
    assert seasonal_naive(inputs[:5], 1) == []


def test_the_warning_names_at_most_five_values_far_outside() -> None:
    warning = outlier_warning("Toys", [1e9] * 7, [0.0, 1000.0], factor=1.0)
    assert warning.startswith("value 1 (1e+09), value 2 (1e+09)") and "value 6" not in warning
    assert " and 2 more lie far outside Toys's history (0.00 to 1,000.00 a day)" in warning
    assert outlier_warning("Toys", [500.0], [0.0, 1000.0], factor=1.0) == ""


@pytest.mark.parametrize(("value", "expected"), [(None, 1), ("", 1), (7, 7), (28.0, 28), (90, 90)])
def test_horizon(value: Any, expected: int) -> None:
    """No upper bound here: that is the served model's, from GET /api/models (the box's maximum)."""
    assert parse_horizon(value) == expected


@pytest.mark.parametrize("value", [0, -3, 2.5, "x"])
def test_bad_horizon(value: Any) -> None:
    with pytest.raises(InputError):
        parse_horizon(value)


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), (" 2024-12-30 ", "2024-12-30")])
def test_the_last_values_date(value: str | None, expected: str | None) -> None:
    assert parse_last_date(value) == expected


@pytest.mark.parametrize("value", ["30/12/2024", "2024-12-32", "20241230", "2024-12-30T00:00", "yesterday"])
def test_a_bad_last_values_date_names_the_format(value: str) -> None:
    with pytest.raises(InputError, match="date of the last value must be a day written YYYY-MM-DD"):
        parse_last_date(value)


@pytest.mark.parametrize(
    ("calendar", "line"),
    [
        (None, ""),
        (
            {"applied": True, "last_date": "2024-12-24"},
            "Calendar applied from the last value's date (2024-12-24).",
        ),
        (
            {"applied": True, "last_date": "2024-12-24", "uses": ["weekday"]},
            "Calendar applied from the last value's date (2024-12-24): weekday.",
        ),
        (
            {
                "applied": True,
                "last_date": "2024-12-24",
                "uses": ["weekday", "holidays (US)"],
                "note": "holidays after 2025-12-31 are not known",
            },
            "Calendar applied from the last value's date (2024-12-24): weekday, holidays (US). "
            "Holidays after 2025-12-31 are not known.",
        ),
        (
            {"applied": False, "note": "calendar terms not applied: send last_date"},
            "Calendar terms not applied: send last_date.",
        ),
    ],
)
def test_the_calendar_line_says_how_the_terms_were_used(calendar: dict[str, Any] | None, line: str) -> None:
    used = CalendarUse.model_validate(calendar) if calendar is not None else None
    assert calendar_line(used) == ("\n\n" + line if line else "")


@pytest.mark.parametrize(("value", "limit", "kept"), [(7, 28, 7), (28, 7, 7), (None, 28, 1), (2.5, 28, 1)])
def test_a_category_switch_keeps_the_days_ahead_within_its_model(value: Any, limit: int, kept: int) -> None:
    assert horizon_within(value, limit) == kept


def test_csv_downloads_never_carry_a_formula() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"category": ["=1+1 Gifts", "@SUM(A1)", "Beauty", "-x"], "sales": [1.0, -2.0, 3.0, 4.0]}
    )
    safe = neutralize_formulas(frame)
    assert safe["category"].tolist() == ["'=1+1 Gifts", "'@SUM(A1)", "Beauty", "'-x"]
    assert safe["sales"].tolist() == [1.0, -2.0, 3.0, 4.0]  # numbers stay numbers
    from pathlib import Path

    assert Path(write_csv(frame, "=bad name/..")).read_text().splitlines()[1] == "'=1+1 Gifts,1.0"
