"""Check an uploaded sales file the way training will read it, before anything is stored or activated.

The file is recognised (gzip, or text; a spreadsheet or another binary file is refused with what to do
instead), its columns are mapped (`core.column_detection`), and the whole file is read with the loader
training uses, so an upload that passes here trains. Errors name the file as the user called it,
the column and the lines. Nothing in the file is ever evaluated: a cell such as `=1+1` is a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.column_detection import ColumnDetectionError, Role, detect_columns
from core.contracts.dataset import CategorySummary, DatasetColumns
from core.errors import SalescastError
from core.sales_data import DataError, load_daily_sales, read_sample
from core.settings import DataSettings

SAMPLE_ROWS = 1000  # rows column detection looks at
MIN_COLUMNS = 3
GZIP_MAGIC = b"\x1f\x8b"
_BINARY_KINDS = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx or .ods workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}


class UploadError(SalescastError, ValueError):
    """An uploaded file cannot be used as sales data; the message says where and what was expected."""


@dataclass(frozen=True)
class Inspection:
    """What an upload holds: its header, the mapping it is read with, its categories, and notes."""

    suffix: str
    header: list[str]
    columns: DatasetColumns
    categories: list[CategorySummary]
    warnings: list[str]


def file_suffix(path: Path) -> str:
    """`.csv.gz` for gzip data, `.csv` for text; `UploadError` for spreadsheets and other binaries."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        raise UploadError("the file is empty (expected a header line and transaction rows)")
    if head.startswith(GZIP_MAGIC):
        return ".csv.gz"
    for magic, kind in _BINARY_KINDS.items():
        if head.startswith(magic):
            raise UploadError(
                f"the file is {kind}, not a CSV; export the sheet as CSV (UTF-8) and upload that"
            )
    if b"\x00" in head:
        raise UploadError(
            "the file is binary (it holds NUL bytes), not a CSV text file; save it as CSV (UTF-8)"
        )
    return ".csv"


def inspect_upload(
    path: Path,
    display_name: str,
    given: Mapping[Role, str | None],
    date_format: str | None,
    data: DataSettings,
) -> Inspection:
    """Check the file at `path` (called `display_name` in messages) and summarize it per category.

    `given` maps roles to the columns the user named (None = detect); `data` supplies the configured
    column names (a detection hint) and the fill policy. Raises `UploadError` or
    `ColumnDetectionError` with a message that names `display_name`, never the staging path.
    """
    try:
        suffix = file_suffix(path)
        sample = read_sample(path, SAMPLE_ROWS)
        if len(sample.columns) < MIN_COLUMNS:
            first = ", ".join(repr(str(name)) for name in sample.columns)
            raise UploadError(
                f"line 1 has {len(sample.columns)} column(s) ({first}); expected a comma-separated header "
                "with at least a date, a category and an amount column"
            )
        if sample.empty:
            raise UploadError("the file has a header but no data rows")
        configured: dict[Role, str] = {
            "date": data.date_column,
            "category": data.category_column,
            "amount": data.amount_column,
        }
        choices = detect_columns(sample, given, configured, date_format)
        columns = DatasetColumns(
            date=choices["date"].column,
            category=choices["category"].column,
            amount=choices["amount"].column,
            date_format=date_format,
        )
        # zero-filled whatever data.fill_policy says: the summary reports the days without sales
        zero_filled = data.model_copy(update={"fill_policy": "zero"})
        sales = load_daily_sales(reading_settings(zero_filled, path, columns), path)
    except ColumnDetectionError as exc:
        raise ColumnDetectionError(f"{display_name}: {exc}", exc.candidates) from None
    except (DataError, UploadError) as exc:
        message = str(exc).replace(f"{path}: ", "").replace(str(path), display_name)
        raise UploadError(f"{display_name}: {message}") from None
    notes = [choice.note for choice in choices.values() if choice.reason != "as given"]
    return Inspection(
        suffix=suffix,
        header=[str(name) for name in sample.columns],
        columns=columns,
        categories=[summarize(name, series) for name, series in sales.items()],
        warnings=notes + _sparse_warnings(sales),
    )


def reading_settings(data: DataSettings, path: Path, columns: DatasetColumns) -> DataSettings:
    """`data` set up to read the file at `path` with `columns`: every category, zero-filled days."""
    return data.model_copy(
        update={
            "path": path,
            "date_column": columns.date,
            "category_column": columns.category,
            "amount_column": columns.amount,
            "date_format": columns.date_format,
            "categories": "auto",
        }
    )


def summarize(category: str, series: pd.Series) -> CategorySummary:
    """Days on the category's calendar, its first and last day, and the share of days without sales."""
    return CategorySummary(
        category=category,
        days=len(series),
        first=series.index[0].date(),
        last=series.index[-1].date(),
        zero_days_pct=round(float((series.to_numpy() == 0.0).mean()) * 100.0, 2),
    )


def _sparse_warnings(sales: Mapping[str, pd.Series]) -> list[str]:
    notes = []
    for name, series in sales.items():
        zero = float((series.to_numpy() == 0.0).mean())
        if zero > 0.5:
            notes.append(f"category {name!r} has no sales on {zero:.0%} of its days: forecasts will be rough")
    return notes
