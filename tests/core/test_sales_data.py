"""The shared CSV loader: aggregation, calendars, messy-but-valid files, and clear errors for bad ones."""

from __future__ import annotations

import gzip
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.sales_data import (
    DataError,
    file_sha256,
    get_category,
    load_daily_sales,
)
from core.settings import DataSettings, load_settings
from tests.conftest import SAMPLE_DATA

HEADER = "Transaction ID,Date,Customer ID,Gender,Age,Product Category,Quantity,Price per Unit,Total Amount"


def data_settings(**overrides: Any) -> DataSettings:
    """The default data settings with `overrides`, validated like the config file."""
    raw = load_settings(environ={}).data.model_dump()
    raw.update(overrides)
    return DataSettings.model_validate(raw)


def write(tmp_path: Path, text: str, name: str = "sales.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load_error(path: Path, **overrides: Any) -> str:
    """The message of the DataError loading `path` with `overrides` to the data settings raises."""
    with pytest.raises(DataError) as err:
        load_daily_sales(data_settings(**overrides), path)
    return str(err.value)


def kaggle_file(tmp_path: Path, rows: Sequence[tuple[str, str, float]]) -> Path:
    return write(tmp_path, kaggle(rows))


def kaggle(rows: Sequence[tuple[str, str, float]]) -> str:
    """A Kaggle-schema file from (date, category, total) rows."""
    lines = [HEADER]
    for i, (day, category, total) in enumerate(rows, start=1):
        quoted = '"' + category.replace('"', '""') + '"'
        lines.append(f'{i},"{day}",CUST{i:03d},Female,30,{quoted},1,{total},{total}')
    return "\n".join(lines) + "\n"


# ---- aggregation and calendar -----------------------------------------------------------------


def test_sums_per_category_and_day_on_a_continuous_calendar(tmp_path: Path) -> None:
    path = kaggle_file(
        tmp_path,
        [
            ("2024-01-01", "Beauty", 10),
            ("2024-01-01", "Beauty", 5.5),
            ("2024-01-01", "Clothing", 7),
            ("2024-01-04", "Beauty", 3),
            ("2024-01-02", "Electronics", 100),
            ("2024-01-05", "Clothing", 2),
        ],
    )
    sales = load_daily_sales(data_settings(), path)

    assert list(sales) == ["Beauty", "Clothing", "Electronics"]
    beauty = sales["Beauty"]
    assert beauty.name == "Beauty"
    assert beauty.dtype == np.float64
    assert pd.DatetimeIndex(beauty.index).freqstr == "D"
    assert beauty.index[0] == pd.Timestamp("2024-01-01")
    assert beauty.to_list() == [15.5, 0.0, 0.0, 3.0, 0.0]  # runs to the file's last day
    # each category starts on its own first day
    assert sales["Electronics"].index[0] == pd.Timestamp("2024-01-02")
    assert sales["Electronics"].to_list() == [100.0, 0.0, 0.0, 0.0]
    assert sales["Clothing"].to_list() == [7.0, 0.0, 0.0, 0.0, 2.0]


def test_ffill_repeats_the_last_day_through_gaps_and_to_the_end(tmp_path: Path) -> None:
    rows = [("2024-03-01", "Beauty", 4), ("2024-03-04", "Beauty", 9), ("2024-03-06", "Clothing", 1)]
    path = kaggle_file(tmp_path, rows)
    zero = load_daily_sales(data_settings(fill_policy="zero"), path)["Beauty"]
    ffill = load_daily_sales(data_settings(fill_policy="ffill"), path)["Beauty"]

    assert zero.to_list() == [4.0, 0.0, 0.0, 9.0, 0.0, 0.0]
    assert ffill.to_list() == [4.0, 4.0, 4.0, 9.0, 9.0, 9.0]
    assert zero.index.equals(ffill.index)
    assert not ffill.isna().any()


def test_listed_categories_keep_the_listed_order_and_unknown_ones_are_named(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("2024-01-01", "Beauty", 1), ("2024-01-01", "Clothing", 2)])
    sales = load_daily_sales(data_settings(categories=["Clothing", "Beauty"]), path)
    assert list(sales) == ["Clothing", "Beauty"]

    message = load_error(path, categories=["Beauty", "Toys"])
    assert str(path) in message
    assert "'Toys'" in message and "'Beauty'" in message and "'Clothing'" in message
    assert "Product Category" in message


def test_extra_columns_are_ignored_and_column_names_can_be_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "store, day ,segment,revenue,comment\n"
        "S1,2024-05-01,Toys,12.5,first\n"
        "S2,2024-05-01,Toys,0.5,\n"
        "S1,2024-05-02,Games,3,x\n",
    )
    sales = load_daily_sales(
        data_settings(), path, date_column="day", category_column="segment", amount_column="revenue"
    )
    assert sales["Toys"].to_list() == [13.0, 0.0]
    assert sales["Games"].to_list() == [3.0]


# ---- messy but valid files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8", "\n"), ("utf-8-sig", "\n"), ("utf-8-sig", "\r\n"), ("utf-8", "\r\n"), ("utf-8", "\r")],
    ids=["plain", "bom", "bom-crlf", "crlf", "cr"],
)
def test_bom_and_any_line_endings(tmp_path: Path, encoding: str, newline: str) -> None:
    text = kaggle([("2024-01-01", "Beauty", 10), ("2024-01-02", "Beauty", 20)]).replace("\n", newline)
    path = write(tmp_path, text, encoding=encoding)
    sales = load_daily_sales(data_settings(), path)
    assert sales["Beauty"].to_list() == [10.0, 20.0]


def test_gzip_files(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv.gz"
    path.write_bytes(
        gzip.compress(kaggle([("2024-01-01", "Beauty", 10), ("2024-01-03", "Beauty", 1)]).encode())
    )
    assert load_daily_sales(data_settings(), path)["Beauty"].to_list() == [10.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "dates",
    [
        ["2024-11-24 10:30:00", "2024-11-24T23:59:59Z", "2024-11-25 00:00"],
        ["2024-11-24T10:30:00+01:00", "2024-11-24 18:00:00.123", "2024/11/25"],
        ["11/24/2024 10:30 AM", "11/24/2024 11:59 PM", "11/25/2024"],
        ["20241124", "Nov 24, 2024", "25 Nov 2024 09:00"],
    ],
    ids=["iso-time", "iso-offset", "us-time", "compact-and-named"],
)
def test_dates_with_a_time_part_count_for_their_calendar_day(tmp_path: Path, dates: list[str]) -> None:
    path = kaggle_file(tmp_path, [(day, "Beauty", 1) for day in dates])
    series = load_daily_sales(data_settings(), path)["Beauty"]
    assert series.to_dict() == {pd.Timestamp("2024-11-24"): 2.0, pd.Timestamp("2024-11-25"): 1.0}


def test_ambiguous_numeric_dates_are_month_first_unless_date_format_says_otherwise(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("01/02/2024", "Beauty", 1), ("01/03/2024", "Beauty", 2)])

    month_first = load_daily_sales(data_settings(), path)["Beauty"]
    assert month_first.index[0] == pd.Timestamp("2024-01-02")
    assert len(month_first) == 2

    day_first = load_daily_sales(data_settings(date_format="%d/%m/%Y"), path)["Beauty"]
    assert day_first.index[0] == pd.Timestamp("2024-02-01")
    assert day_first.index[-1] == pd.Timestamp("2024-03-01")
    assert len(day_first) == 30  # Feb 2024 has 29 days, then Mar 1
    assert day_first.sum() == 3.0


def test_date_format_accepts_a_trailing_time_part(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("24.11.2024 08:15", "Beauty", 1), ("25.11.2024 19:00", "Beauty", 2)])
    series = load_daily_sales(data_settings(date_format="%d.%m.%Y"), path)["Beauty"]
    assert series.to_dict() == {pd.Timestamp("2024-11-24"): 1.0, pd.Timestamp("2024-11-25"): 2.0}


def test_a_file_that_is_only_valid_day_first_is_read_day_first(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("01/02/2024", "Beauty", 1), ("24/02/2024", "Beauty", 2)])
    series = load_daily_sales(data_settings(), path)["Beauty"]
    assert series.index[0] == pd.Timestamp("2024-02-01")
    assert series.index[-1] == pd.Timestamp("2024-02-24")


def test_category_names_with_spaces_punctuation_and_accents(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Café")
    path = kaggle_file(
        tmp_path,
        [
            ("2024-01-01", "Home & Garden, Outdoor", 1),
            ("2024-01-01", 'Kids\' "Toys" (3+)', 2),
            ("2024-01-01", "Café", 3),
            ("2024-01-02", decomposed, 4),
            ("2024-01-02", "  Spielwaren  ", 5),
            ("2024-01-02", "家电", 6),
        ],
    )
    sales = load_daily_sales(data_settings(), path)
    assert set(sales) == {"Home & Garden, Outdoor", 'Kids\' "Toys" (3+)', "Café", "Spielwaren", "家电"}
    assert sales["Café"].to_list() == [3.0, 4.0]  # composed and decomposed accents are one category
    assert load_daily_sales(data_settings(categories=["家电"]), path)["家电"].to_list() == [6.0]


def test_amounts_with_currency_signs_thousands_separators_and_refunds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Product Category,Total Amount\n"
        '2024-01-01,Beauty,"$1,234.50"\n'
        "2024-01-01,Beauty, 10 \n"
        "2024-01-01,Beauty,-4.5\n"
        "2024-01-01,Beauty,€20\n"
        "2024-01-02,Beauty,1e2\n",
    )
    assert load_daily_sales(data_settings(), path)["Beauty"].to_list() == [1260.0, 100.0]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Date,Product Category,Total Amount\n\n2024-01-01,Beauty,1\n,,\n\n2024-01-02,Beauty,2\n\n"
    )
    assert load_daily_sales(data_settings(), path)["Beauty"].to_list() == [1.0, 2.0]


def test_the_bundled_sample_loads() -> None:
    sales = load_daily_sales(data_settings(), SAMPLE_DATA)
    assert list(sales) == ["Beauty", "Clothing", "Electronics"]
    for series in sales.values():
        assert len(series) >= 730
        assert pd.DatetimeIndex(series.index).freqstr == "D"
        assert series.attrs["source"] == str(SAMPLE_DATA)


# ---- bad files: every message names the file, the column and the rows --------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv does not exist"):
        load_daily_sales(data_settings(), tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is not a file"):
        load_daily_sales(data_settings(), tmp_path)


def test_missing_columns_list_what_the_file_has(tmp_path: Path) -> None:
    path = write(tmp_path, "When,Product Category,Amount\n2024-01-01,Beauty,1\n")
    message = load_error(path)
    assert str(path) in message
    assert "'Date'" in message and "'Total Amount'" in message
    assert "'When'" in message and "'Amount'" in message
    assert "'Product Category'" in message.split("the file has")[1]


def test_unparsable_dates_name_column_lines_and_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Product Category,Total Amount\n"
        "2024-01-01,Beauty,1\n"
        "\n"
        "2024-13-40,Beauty,1\n"
        "yesterday,Beauty,1\n"
        ",Beauty,1\n",
    )
    message = load_error(path)
    assert str(path) in message and "'Date'" in message
    assert "3 value(s)" in message
    assert "line 4: '2024-13-40'" in message  # line numbers as in the file (blank line 3 counted)
    assert "line 5: 'yesterday'" in message
    assert "line 6: ''" in message
    assert "date_format" in message


def test_dates_not_matching_the_configured_format(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("24/11/2024", "Beauty", 1), ("2024-11-25", "Beauty", 1)])
    with pytest.raises(DataError, match=r"line 3: '2024-11-25'.*'%d/%m/%Y'"):
        load_daily_sales(data_settings(date_format="%d/%m/%Y"), path)


def test_many_bad_rows_are_summarized(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("2024-01-01", "Beauty", 1)] + [("bad", "Beauty", 1)] * 8)
    message = load_error(path)
    assert "8 value(s)" in message
    assert "line 3: 'bad'" in message and "line 7: 'bad'" in message
    assert "line 8" not in message
    assert "(and 3 more)" in message


def test_non_numeric_amounts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Product Category,Total Amount\n"
        "2024-01-01,Beauty,12\n"
        "2024-01-01,Beauty,twelve\n"
        "2024-01-02,Beauty,\n"
        "2024-01-02,Beauty,inf\n",
    )
    message = load_error(path)
    assert str(path) in message and "'Total Amount'" in message
    assert "line 3: 'twelve'" in message and "line 4: ''" in message and "line 5: 'inf'" in message


def test_empty_category_names(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Product Category,Total Amount\n2024-01-01,Beauty,1\n2024-01-02,  ,1\n")
    with pytest.raises(DataError, match=r"'Product Category'.*line 3"):
        load_daily_sales(data_settings(), path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"\xef\xbb\xbfDate,Product Category,Total Amount\r\n", "no data rows"),
        (b"Date,Product Category,Total Amount\n,,\n\n", "no data rows"),
    ],
    ids=["zero-bytes", "blank-lines", "header-only", "only-blank-rows"],
)
def test_empty_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=expected) as err:
        load_daily_sales(data_settings(), path)
    assert str(path) in str(err.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Product Category,Total Amount\n2024-01-01,Caf\xe9,1\n", encoding="latin-1")
    with pytest.raises(DataError, match="not UTF-8"):
        load_daily_sales(data_settings(), path)


def test_ragged_rows_and_broken_gzip(tmp_path: Path) -> None:
    ragged = write(
        tmp_path, "Date,Product Category,Total Amount\n2024-01-01,Beauty,1\n2024-01-02,Beauty,1,9,9\n"
    )
    with pytest.raises(DataError, match=r"not a readable CSV.*line 3"):
        load_daily_sales(data_settings(), ragged)

    fake_gz = write(tmp_path, "Date,Product Category,Total Amount\n", name="sales.csv.gz")
    with pytest.raises(DataError, match=r"sales\.csv\.gz"):
        load_daily_sales(data_settings(), fake_gz)


def test_errors_are_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Date,Product Category,Total Amount\n2024-01-01,Beauty,1\n2024-01-02,Beauty,1,9,9\n"
    )
    with pytest.raises(DataError) as err:
        load_daily_sales(data_settings(), path)
    assert "\n" not in str(err.value)


# ---- helpers for training and the gateway -------------------------------------------------------


def test_get_category_names_the_known_ones(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("2024-01-01", "Beauty", 1.5), ("2024-01-02", "Clothing", 2)])
    sales = load_daily_sales(data_settings(), path)
    assert get_category(sales, "Beauty").to_list() == [1.5, 0.0]
    with pytest.raises(DataError, match=r"sales\.csv: unknown category 'Toys'.*'Beauty', 'Clothing'"):
        get_category(sales, "Toys")


def test_file_sha256(tmp_path: Path) -> None:
    path = write(tmp_path, "abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("date_format", "expected"),
    [("%d/%m", "needs a day and a year"), ("%Q/%d/%Y", "not a valid format")],
)
def test_unusable_date_format(tmp_path: Path, date_format: str, expected: str) -> None:
    path = kaggle_file(tmp_path, [("24/11/2024", "Beauty", 1)])
    with pytest.raises(DataError, match=expected):
        load_daily_sales(data_settings(date_format=date_format), path)


def test_a_month_without_a_day_is_not_a_date(tmp_path: Path) -> None:
    path = kaggle_file(tmp_path, [("Nov 24th, 2024", "Beauty", 1), ("March 2024", "Beauty", 1)])
    with pytest.raises(DataError, match=r"1 value\(s\) not a date: line 3: 'March 2024'"):
        load_daily_sales(data_settings(), path)
