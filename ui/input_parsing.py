"""Turn what a person types into the Predict tab into the list of numbers the gateway expects.

The box takes values separated by commas, semicolons, spaces or new lines (so a column pasted
from a spreadsheet works); a decimal point, never a thousands separator. The table gives one
value per row. Both refuse blanks inside the list, words, NaN and infinities with a message
naming the offending entry: JSON cannot carry NaN, so the gateway would only see a parse error.
The count is left to the gateway, which knows the served model's window size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from core.errors import SalescastError

_SEPARATORS = re.compile(r"[,;\s]+")


class InputError(SalescastError, ValueError):
    """The sales values typed into the page are not a list of finite numbers."""


def sales_tokens(text: str | None) -> list[str]:
    """The entries of the box as typed, in order (what the table shows, one per row)."""
    return [token for token in _SEPARATORS.split((text or "").strip()) if token]


def parse_sales_text(text: str | None) -> list[float]:
    """`"10, 12.5;0\\n7"` → `[10.0, 12.5, 0.0, 7.0]`; raises InputError naming the first bad entry."""
    stripped = (text or "").strip()
    if not stripped:
        raise InputError("enter the sales values, separated by commas (oldest day first)")
    tokens = sales_tokens(stripped)
    return [_to_number(token, position) for position, token in enumerate(tokens, start=1)]


def parse_sales_cells(cells: Iterable[object]) -> list[float]:
    """Values of the table's sales column, in row order; empty trailing rows are ignored."""
    values = [_cell_text(cell) for cell in cells]
    while values and values[-1] == "":
        values.pop()
    if not values:
        raise InputError("the table is empty: enter one sales value per row (oldest day first)")
    numbers: list[float] = []
    for row, text in enumerate(values, start=1):
        if text == "":
            raise InputError(f"row {row} of the table is empty: every day needs a sales value")
        numbers.append(_to_number(text, row, where="row"))
    return numbers


def format_sales_text(values: Sequence[float]) -> str:
    """The inverse of `parse_sales_text`: shortest exact text per value, comma-separated."""
    return ", ".join(sales_entries(values))


def sales_entries(values: Sequence[float]) -> list[str]:
    """Each value as the shortest text that reads back exactly (`820`, `1310.5`): one box entry each."""
    return [_short_number(value) for value in values]


def _short_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and math.isnan(cell):
        return ""  # pandas shows an empty cell as NaN
    return str(cell).strip()


def _to_number(token: str, position: int, where: str = "value") -> float:
    try:
        number = float(token)
    except ValueError:
        raise InputError(f"{where} {position} ({token!r}) is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where} {position} ({token!r}) must be a finite number, not NaN or infinity")
    return number
