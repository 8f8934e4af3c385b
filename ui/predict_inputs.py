"""The Predict tab's inputs: the box and its table (two views of the same entries), days ahead, the
date of the last value (for a version's calendar terms), and the check of values far outside the
history.

The box and the table hold the same entries, text for text: an entry that is not a number stays
visible in both and is named on the box's check line. Each mirror answers with the entries both now
hold (`Synced`, a per-session state), so a late echo of an edit the other side already holds writes
nothing (see `mirror_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import pandas as pd

from ui.formatting import format_sales, message_html
from ui.input_parsing import InputError, parse_sales_text, sales_tokens
from ui.updates import Skip, skip

TABLE_COLUMNS = ["Day", "Sales"]
Synced = tuple[str, ...]  # the entries the box and its table last agreed on (a per-session gr.State)
SHOWN_OUTLIERS = 5  # values named in the far-outside warning; the rest are counted


@dataclass(frozen=True)
class FilledInputs:
    """Values put in from the history: the category and the days they stand for (kept while the
    number of entries stays the same, so an edited value keeps its date)."""

    category: str
    dates: tuple[str, ...]


class TableMirror(NamedTuple):
    """The box mirrored in the table: the table, the box's check line, the entries both hold."""

    table: pd.DataFrame
    check: str
    synced: Synced


class BoxMirror(NamedTuple):
    """The table mirrored in the box (each field skipped when the box already holds the table)."""

    text: str | Skip
    check: str | Skip
    synced: Synced | Skip


def table_for(
    entries: Sequence[str], size: int | None = None, dates: Sequence[str] | None = None
) -> pd.DataFrame:
    """The input table: one row per entry (as typed), oldest first, padded with empty rows up to `size`."""
    rows: list[list[Any]] = []
    for index in range(max(len(entries), size or 0)):
        label = dates[index] if dates and index < len(dates) else f"day {index + 1}"
        rows.append([label, entries[index] if index < len(entries) else ""])
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def entry_check(text: str) -> str:
    """The line under the box: names an entry that is not a number, else empty.

    It is its own line, not the tab's message, because a click on Predict blurs the box: the check
    and the forecast answer at about the same time and can land in either order, so a shared message
    could show the check's "all fine" over Predict's error (seen once in the browser test)."""
    try:
        if sales_tokens(text):
            parse_sales_text(text)
    except InputError as exc:
        return message_html("error", str(exc))
    return ""


def mirror_box(text: str, filled: FilledInputs | None) -> TableMirror:
    """Mirror the box in the table, entry for entry (keeping the filled dates while the count holds)."""
    entries = sales_tokens(text)
    dates = filled.dates if filled is not None and len(filled.dates) == len(entries) else None
    return TableMirror(table_for(entries, dates=dates), entry_check(text), tuple(entries))


def mirror_table(table: pd.DataFrame | None, synced: Synced | None = None) -> BoxMirror:
    """Mirror the table in the box, cell for cell (trailing empty rows dropped), with the box's check.

    Nothing when the box already holds these entries (`synced`, kept on the server, so a second
    request reads what the first wrote): the table sends one cell edit twice, on Enter and when the
    cell loses focus, and the late echo must not overwrite what the user has typed in the box since.
    """
    if table is None or "Sales" not in table:
        return BoxMirror(skip(), skip(), skip())
    cells = ["" if _blank(cell) else str(cell).strip() for cell in table["Sales"].tolist()]
    while cells and cells[-1] == "":
        cells.pop()
    if synced is not None and tuple(cells) == synced:
        return BoxMirror(skip(), skip(), skip())
    text = ", ".join(cells)
    return BoxMirror(text, entry_check(text), tuple(cells))


def parse_horizon(value: float | str | None) -> int:
    """The days-ahead box → a whole number from 1 (empty → 1).

    The upper bound is the served model's `max_horizon` (from `GET /api/models`): the box's maximum
    on the page, and the gateway's own message for a request that asks for more."""
    if value is None or value == "":
        return 1
    try:
        days = float(value)
    except (TypeError, ValueError):
        raise InputError(f"days ahead {value!r} is not a number") from None
    if not days.is_integer() or days < 1:
        raise InputError(f"days ahead must be a whole number from 1, got {value}")
    return int(days)


def parse_last_date(value: str | None) -> str | None:
    """The "date of the last value" box → an ISO day (YYYY-MM-DD), or None when empty (not sent)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or day.isoformat() != text:
        raise InputError(f"the date of the last value must be a day written YYYY-MM-DD, got {text!r}")
    return text


def horizon_within(value: float | str | None, limit: int) -> int:
    """The days-ahead box after a category switch: kept when the new model forecasts that far, else
    its limit (a box that does not hold a valid number starts again at 1)."""
    try:
        days = parse_horizon(value)
    except InputError:
        days = 1
    return min(days, limit)


def far_outside(values: Sequence[float], history: Sequence[float], factor: float) -> list[tuple[int, float]]:
    """(1-based position, value) of inputs more than `factor` history ranges below its minimum or above its
    maximum, and of negative inputs when the history has none."""
    if not history:
        return []
    low, high = min(history), max(history)
    span = max(high - low, abs(high), 1.0)
    flagged = []
    for position, value in enumerate(values, start=1):
        negative = value < 0 <= low
        if negative or value > high + factor * span or value < low - factor * span:
            flagged.append((position, value))
    return flagged


def outlier_warning(category: str, values: Sequence[float], history: Sequence[float], factor: float) -> str:
    """Why a forecast from these inputs is an extrapolation, naming the values far outside the
    history; empty when there are none."""
    flagged = far_outside(values, history, factor)
    if not flagged:
        return ""
    shown = ", ".join(f"value {position} ({value:,.6g})" for position, value in flagged[:SHOWN_OUTLIERS])
    more = f" and {len(flagged) - SHOWN_OUTLIERS} more" if len(flagged) > SHOWN_OUTLIERS else ""
    return (
        f"{shown}{more} lie far outside {category}'s history ({format_sales(min(history))} to "
        f"{format_sales(max(history))} a day): the model never saw such values, so this forecast is an "
        "extrapolation — check the inputs."
    )


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, float) and pd.isna(cell)) or str(cell).strip() == ""
