"""CSV files the page offers for download (history, forecasts, metrics, backtests).

Written to a fresh folder of `ui.temp_files` (kept for a day) that Gradio serves from. A text cell
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
return, e.g. a category named `=1+1 Gifts`) is written with a leading `'`, so opening the file never
evaluates it; numbers are written as numbers.
"""

from __future__ import annotations

import re

import pandas as pd

from ui.temp_files import TempFolder

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_FOLDER = TempFolder("salescast-ui-downloads")


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells cannot be read as spreadsheet formulas."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(_safe_cell)
    return safe


def write_csv(frame: pd.DataFrame, name: str) -> str:
    """Write `frame` as UTF-8 CSV named after `name` (made file-safe) and return its path."""
    path = _FOLDER.new() / f"{_UNSAFE_NAME.sub('-', name).strip('-') or 'salescast'}.csv"
    neutralize_formulas(frame).to_csv(path, index=False, encoding="utf-8")
    return str(path)


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return f"'{value}"
    return value
