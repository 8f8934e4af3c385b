"""A day given by a person or a query string: `YYYY-MM-DD` (a time part is ignored) → `date`.

The gateway's history routes and the UI's date fields read days the same way and say the same
thing when one is not a date. (Dates inside a CSV are another matter: `core.sales_data` infers a
whole column's format.)
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from core.errors import SalescastError


class DayError(SalescastError, ValueError):
    """A value that should be a day is not one; the message names the field and the expected form."""


def parse_day(value: str | date | float | None, name: str) -> date | None:
    """`"2024-12-31"`, `"2024-12-31 10:00"`, a `date`, or epoch seconds (a date picker's value) → date;
    None or blank → None (an open end)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            raise DayError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
    raise DayError(f"{name} must be a date as YYYY-MM-DD, got {value!r}")
