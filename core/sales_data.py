"""The CSV loader every part shares: transactions → one continuous daily series per category.

Accepts the Kaggle "Retail Sales Dataset" schema and any CSV or .csv.gz with a date, a category and
an amount column (names from `DataSettings`, overridable per call); other columns are ignored.
Real exports are messy, so the loader takes UTF-8 with or without a BOM, any line endings, quoted
category names with spaces, punctuation or accents, amounts with a currency sign or thousands
separators, and these date forms (a time part or time zone after the date is ignored):

- `data.date_format` set (a strftime format such as `%d/%m/%Y`): every date must match it.
- otherwise, per value: year first (`2023-11-24`, `2023/11/24`, `20231124`) or a month name
  (`Nov 24, 2023`, `24 Nov 2023`); numeric day and month without a year first are read
  **month-first** (`11/24/2023`, as the Kaggle export) unless some of them are impossible
  month-first but all valid day-first (`24/11/2023`), in which case the whole file is read
  day-first. Files whose every day is ≤ 12 are ambiguous: set `data.date_format`.

Every problem a user can cause raises `DataError` naming the file, the column and the first
offending rows (line numbers as in the file, header = line 1) with their values.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from core.errors import SalescastError
from core.hashing import file_sha256 as file_sha256  # the data's SHA-256 names a run's exact data
from core.settings import DataSettings, FillPolicy

__all__ = [
    "DataError",
    "amount_share",
    "date_share",
    "file_sha256",
    "get_category",
    "load_daily_sales",
    "read_sample",
]

MAX_REPORTED_ROWS = 5  # offending rows quoted in an error message
_HEADER_LINES = 1

_TIME_PART = (
    r"(?:(?:[T ]|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?)?"
    r"\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?"
)
_YEAR_FIRST = re.compile(rf"^(?P<y>\d{{4}})[-/.](?P<m>\d{{1,2}})[-/.](?P<d>\d{{1,2}}){_TIME_PART}$")
_COMPACT = re.compile(rf"^(?P<y>\d{{4}})(?P<m>\d{{2}})(?P<d>\d{{2}}){_TIME_PART}$")
_YEAR_LAST = re.compile(rf"^(?P<a>\d{{1,2}})[-/.](?P<b>\d{{1,2}})[-/.](?P<y>\d{{4}}|\d{{2}}){_TIME_PART}$")
_HAS_MONTH_NAME = re.compile(r"[A-Za-z]{3,}")
_CURRENCY = re.compile(r"^[\s$€£¥]*(?P<sign>-?)[\s$€£¥]*(?P<num>.*?)[\s$€£¥]*$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d*)?$")


class DataError(SalescastError, ValueError):
    """A sales file cannot be used; the message names the file, the column and the offending rows."""


def load_daily_sales(
    data: DataSettings,
    path: Path | None = None,
    *,
    date_column: str | None = None,
    category_column: str | None = None,
    amount_column: str | None = None,
) -> dict[str, pd.Series]:
    """Daily sales per category from the transactions file at `path` (default `data.path`).

    Amounts are summed per category and day, then put on a continuous daily calendar from the
    category's first day to the file's last day; days without transactions are filled per
    `data.fill_policy` (`zero`: nothing sold; `ffill`: repeat the previous day's total). Returns
    `{category: float64 Series}` (index freq "D", name = category), every category for
    `data.categories == "auto"` (sorted by name), else the listed ones in the listed order.
    """
    source = Path(path if path is not None else data.path)
    columns = _Columns(
        date=date_column or data.date_column,
        category=category_column or data.category_column,
        amount=amount_column or data.amount_column,
    )
    frame = _read_columns(source, columns)
    lines = frame.index.to_numpy() + _HEADER_LINES + 1
    dates = _parse_dates(frame[columns.date], lines, source, columns.date, data.date_format)
    categories = _parse_categories(frame[columns.category], lines, source, columns.category)
    amounts = _parse_amounts(frame[columns.amount], lines, source, columns.amount)
    daily = (
        pd.DataFrame({"category": categories, "date": dates, "amount": amounts})
        .groupby(["category", "date"], sort=True)["amount"]
        .sum()
    )
    last_day = pd.Timestamp(dates.max())
    known = sorted(daily.index.unique(level="category"))
    wanted = known if data.categories == "auto" else _select(data.categories, known, source, columns)
    return {
        category: _calendar(
            daily.xs(category, level="category"), last_day, data.fill_policy, category, source
        )
        for category in wanted
    }


def get_category(sales: Mapping[str, pd.Series], category: str) -> pd.Series:
    """`sales[category]`, or a `DataError` listing the known categories."""
    if category in sales:
        return sales[category]
    known = ", ".join(repr(name) for name in sales) or "none"
    prefix = _source_prefix(next(iter(sales.values()))) if sales else ""
    raise DataError(f"{prefix}unknown category {category!r}; the data has {known}")


def read_sample(path: Path, rows: int) -> pd.DataFrame:
    """The header and the first `rows` records as stripped strings (what column detection looks at);
    `DataError` for a file that is not a readable UTF-8 CSV."""
    frame = _read_csv(path, nrows=rows)
    frame.columns = [str(name).strip() for name in frame.columns]
    for name in frame.columns:
        frame[name] = frame[name].str.strip()
    return frame


def date_share(values: pd.Series, date_format: str | None = None) -> float:
    """Share of the non-blank `values` that read as days the way `load_daily_sales` reads them."""
    texts = values[values != ""].drop_duplicates().reset_index(drop=True)
    if texts.empty:
        return 0.0
    parsed = _with_format(texts, date_format) if date_format else _infer(texts)[0]
    return float(parsed.notna().mean())


def amount_share(values: pd.Series) -> float:
    """Share of the non-blank `values` that read as amounts (currency signs and thousands separators
    allowed) the way `load_daily_sales` reads them."""
    texts = values[values != ""].reset_index(drop=True)
    if texts.empty:
        return 0.0
    amounts = _to_amounts(texts)
    return float(np.isfinite(amounts).mean())


# ---- reading --------------------------------------------------------------------------------


class _Columns(NamedTuple):
    date: str
    category: str
    amount: str


def _read_columns(source: Path, columns: _Columns) -> pd.DataFrame:
    """The three columns as stripped strings, one row per non-blank record, index = record number."""
    if not source.exists():
        raise DataError(f"data file {source} does not exist")
    if not source.is_file():
        raise DataError(f"data file {source} is not a file")
    # Every column is read (not just ours) so a row with extra fields, e.g. an unquoted comma in
    # a category name, is an error instead of silently shifting values.
    full = _read_csv(source)
    present = [str(name).strip() for name in full.columns]
    missing = [name for name in columns if name not in present]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(repr(m) for m in missing)}; "
            f"the file has {', '.join(repr(p) for p in present)} "
            "(set data.date_column / category_column / amount_column, or pass them per run)"
        )
    blank = (full.fillna("") == "").all(axis=1)
    wanted = list(dict.fromkeys(columns))
    frame = full.iloc[:, [present.index(name) for name in wanted]].loc[~blank].fillna("")
    frame.columns = wanted
    for name in wanted:
        frame[name] = frame[name].str.strip()
    if frame.empty:
        raise DataError(f"{source}: the file has a header but no data rows")
    return frame


# Every cell as text (checked and converted here, with messages naming the line), no NA guessing,
# blank lines kept so line numbers match the file, a UTF-8 BOM dropped, gzip by the file name.
READ_CSV_OPTIONS: dict[str, Any] = {
    "dtype": str,
    "keep_default_na": False,
    "skip_blank_lines": False,
    "index_col": False,
    "encoding": "utf-8-sig",
    "compression": "infer",
}


def _read_csv(source: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame: pd.DataFrame = pd.read_csv(source, **READ_CSV_OPTIONS, **kwargs)
            return frame
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{source}: the file is empty (expected a header line and transaction rows)"
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: not UTF-8 text (invalid byte at offset {exc.start}); save it as UTF-8"
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise DataError(f"{source}: not a readable CSV: {_one_line(str(exc))}") from None
    except (OSError, EOFError) as exc:  # e.g. a truncated or fake .gz
        raise DataError(f"{source}: cannot read the file: {_one_line(str(exc))}") from None


# ---- parsing --------------------------------------------------------------------------------


def _parse_dates(
    values: pd.Series, lines: np.ndarray, source: Path, column: str, date_format: str | None
) -> np.ndarray:
    """Day (datetime64[ns], midnight) per row; one parse per distinct text."""
    codes, uniques = pd.factorize(values, sort=False)
    texts = pd.Series(uniques, dtype=object)
    if date_format is not None:
        parsed = _with_format(texts, date_format)
        expected = f"dates matching data.date_format {date_format!r}"
    else:
        parsed, order = _infer(texts)
        expected = (
            f"dates like 2023-11-24, 11/24/2023 or Nov 24, 2023 (read {order}; "
            'set data.date_format, e.g. "%d/%m/%Y", to settle the order)'
        )
    days = parsed.to_numpy(dtype="datetime64[ns]")[codes]
    _fail_rows(np.isnat(days), values, lines, source, column, "not a date", expected)
    return days


def _with_format(texts: pd.Series, date_format: str) -> pd.Series:
    """Parse with the configured format; it may stop before a trailing time part (`exact=False`)."""
    if not re.search(r"%[Yy]", date_format) or not re.search(r"%[dj]", date_format):
        raise DataError(f"data.date_format {date_format!r} needs a day and a year (e.g. %d/%m/%Y)")
    try:
        parsed = pd.to_datetime(texts, format=date_format, exact=False, errors="coerce")
    except ValueError as exc:
        raise DataError(f"data.date_format {date_format!r} is not a valid format: {exc}") from None
    return _naive_days(parsed)


def _infer(texts: pd.Series) -> tuple[pd.Series, str]:
    parsed = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    for pattern in (_YEAR_FIRST, _COMPACT):
        parts = texts.str.extract(pattern)
        found = parts["y"].notna() & parsed.isna()
        parsed[found] = _from_parts(parts.loc[found, "y"], parts.loc[found, "m"], parts.loc[found, "d"])
    parts = texts.str.extract(_YEAR_LAST)
    numeric = parts["y"].notna() & parsed.isna()
    order = "month-first"
    if numeric.any():
        year = parts.loc[numeric, "y"].astype(int)
        year = year.where(year >= 100, year + 2000)
        month_first = _from_parts(year, parts.loc[numeric, "a"], parts.loc[numeric, "b"])
        day_first = _from_parts(year, parts.loc[numeric, "b"], parts.loc[numeric, "a"])
        if month_first.isna().any() and day_first.notna().all():
            month_first, order = day_first, "day-first"
        parsed[numeric] = month_first
    named = parsed.isna() & texts.str.contains(_HAS_MONTH_NAME)
    for index in named[named].index:
        parsed[index] = _parse_named(str(texts[index]))
    return parsed, order


def _from_parts(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    if year.empty:
        return pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    parts = pd.DataFrame({"year": year.astype(int), "month": month.astype(int), "day": day.astype(int)})
    return pd.to_datetime(parts, errors="coerce")


def _parse_named(text: str) -> pd.Timestamp | Any:
    """A date with a month name (`Nov 24, 2023`); NaT unless it has a day, a month name and a year."""
    if not (re.search(r"\b\d{4}\b", text) and re.search(r"\b\d{1,2}(?:st|nd|rd|th)?\b", text)):
        return pd.NaT
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _naive_days(parsed: pd.Series) -> pd.Series:
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    days: pd.Series = parsed.dt.normalize()
    return days


def _parse_categories(values: pd.Series, lines: np.ndarray, source: Path, column: str) -> np.ndarray:
    """Category names, NFC-normalized so composed and decomposed accents are one category."""
    codes, uniques = pd.factorize(values, sort=False)
    names = np.array([unicodedata.normalize("NFC", str(name)) for name in uniques], dtype=object)
    result = names[codes]
    _fail_rows(result == "", values, lines, source, column, "empty category", "a category name")
    return result


def _parse_amounts(values: pd.Series, lines: np.ndarray, source: Path, column: str) -> np.ndarray:
    """Amounts as float64; a currency sign and `,` thousands separators are accepted."""
    amounts = _to_amounts(values)
    _fail_rows(
        ~np.isfinite(amounts), values, lines, source, column, "not a number", "numbers like 150 or 39.90"
    )
    return amounts


def _to_amounts(values: pd.Series) -> np.ndarray:
    amounts = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    retry = np.isnan(amounts)
    if retry.any():  # slow path only for values plain parsing rejected
        parts = values[retry].str.extract(_CURRENCY)
        number = parts["num"].where(~parts["num"].str.match(_THOUSANDS), parts["num"].str.replace(",", ""))
        amounts[retry] = pd.to_numeric(parts["sign"] + number, errors="coerce").to_numpy(dtype=np.float64)
    return amounts


def _fail_rows(
    bad: np.ndarray, values: pd.Series, lines: np.ndarray, source: Path, column: str, what: str, expected: str
) -> None:
    count = int(bad.sum())
    if not count:
        return
    shown = ", ".join(
        f"line {line}: {value!r}"
        for line, value in zip(
            lines[bad][:MAX_REPORTED_ROWS], values.to_numpy()[bad][:MAX_REPORTED_ROWS], strict=True
        )
    )
    more = f" (and {count - MAX_REPORTED_ROWS} more)" if count > MAX_REPORTED_ROWS else ""
    raise DataError(
        f"{source}: column {column!r} has {count} value(s) {what}: {shown}{more}; expected {expected}"
    )


# ---- shaping --------------------------------------------------------------------------------


def _select(listed: list[str], known: list[str], source: Path, columns: _Columns) -> list[str]:
    wanted = [unicodedata.normalize("NFC", name.strip()) for name in listed]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise DataError(
            f"{source}: configured categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))} not found in column {columns.category!r}; "
            f"the file has {', '.join(map(repr, known))}"
        )
    return list(dict.fromkeys(wanted))


def _calendar(
    daily: pd.Series, last_day: pd.Timestamp, fill_policy: FillPolicy, category: str, source: Path
) -> pd.Series:
    calendar = pd.date_range(daily.index.min(), last_day, freq="D", name="date")
    series = daily.reindex(calendar)
    series = series.fillna(0.0) if fill_policy == "zero" else series.ffill()
    series = series.astype(np.float64).rename(category)
    series.attrs["source"] = str(source)
    return series


def _day(stamp: Any) -> str:
    return pd.Timestamp(stamp).strftime("%Y-%m-%d")


def _source_prefix(series: pd.Series) -> str:
    source = series.attrs.get("source")
    return f"{source}: " if source else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())
