"""The Predict tab's input box and table: what parses, and what a wrong entry is told."""

from __future__ import annotations

import math

import pytest

from ui.input_parsing import InputError, format_sales_text, parse_sales_cells, parse_sales_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1, 2, 3", [1.0, 2.0, 3.0]),
        ("1,2,3", [1.0, 2.0, 3.0]),
        ("  10.5 ;0\n7  ", [10.5, 0.0, 7.0]),
        ("1 2\t3", [1.0, 2.0, 3.0]),
        ("-4, 1e3, .5", [-4.0, 1000.0, 0.5]),
        ("1,, 2", [1.0, 2.0]),  # a doubled separator is not an empty value
    ],
)
def test_parse_sales_text_accepts_common_separators(text: str, expected: list[float]) -> None:
    assert parse_sales_text(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "enter the sales values"),
        ("   ", "enter the sales values"),
        ("1, two, 3", "value 2 ('two') is not a number"),
        ("1, 2, nan", "value 3 ('nan') must be a finite number"),
        ("inf", "value 1 ('inf') must be a finite number"),
        ("1.2.3", "value 1 ('1.2.3') is not a number"),
    ],
)
def test_parse_sales_text_names_the_bad_entry(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_sales_text(text)
    assert fragment in str(caught.value)


def test_parse_sales_cells_reads_rows_and_ignores_empty_trailing_rows() -> None:
    assert parse_sales_cells([1, "2.5", 3.0, None, "", math.nan]) == [1.0, 2.5, 3.0]


@pytest.mark.parametrize(
    ("cells", "fragment"),
    [
        ([None, None], "the table is empty"),
        ([1, None, 3], "row 2 of the table is empty"),
        ([1, "abc"], "row 2 ('abc') is not a number"),
        (["-inf"], "row 1 ('-inf') must be a finite number"),
    ],
)
def test_parse_sales_cells_errors(cells: list[object], fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_sales_cells(cells)
    assert fragment in str(caught.value)


def test_format_sales_text_round_trips() -> None:
    values = [820.0, 1310.5, 0.0, 1e-7, 123456789.25]
    text = format_sales_text(values)
    assert text == "820, 1310.5, 0, 1e-07, 123456789.25"
    assert parse_sales_text(text) == values
