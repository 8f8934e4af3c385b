"""Calendar terms of a version: a multiplicative factor per day, applied around the model.

A version trained with calendar terms learned from sales divided by each day's factor (public
holidays, the time of year, the month's end), so its `model.pt` forecasts a "normal" day. Given the
date of a request's last value, the handler divides the window by its days' factors and multiplies
the forecast (and its interval) by the target days' factors: the same normalize / de-normalize
pattern as the window's level. A format 3 `model.pt` also takes the weekday of each day forecast
(`next_weekday`). Without a date the window is used as it is and the answer says so.

The manifest's `calendar` block (what `day_factor` reads; training writes it, `core.contracts`):
- `holidays`: {"YYYY-MM-DD": factor} for the public holidays of `country` up to `holidays_until`
  and the days around them that sell differently (Black Friday, the days before New Year);
- `yearly`: 366 factors by day of a leap year (Jan 1 = 0, Feb 29 = 59), or null;
- `month_end`: {"days": k, "factor": f} for the last k days of every month, or null;
- `floor`: a window day is divided by max(factor, floor), so a closed day's 0 is not inflated.
This module depends on the standard library only: it travels inside every `.mar`.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

YEAR_DAYS = 366
LEAP_YEAR = 2000
NOT_SENT = (
    "calendar terms not applied: send last_date (the date of the last value, YYYY-MM-DD) for the "
    "holiday and season factors; the window alone was used"
)
NOT_TRAINED = "this version has no calendar terms (trained without them): last_date was not needed"
WEEKDAY_NOT_SENT = (
    "weekday read from the window's own pattern: send last_date (the date of the last value, "
    "YYYY-MM-DD) for the exact weekday"
)
WEEKDAY_UNKNOWN = -1
"""The weekday passed to a format 3 model for a row without `last_date` (training.model's too)."""


def date_uses(block: Mapping[str, Any] | None, reads_weekday: bool) -> list[str]:
    """What a version reads from the last value's date, in the words the UI shows: `weekday` (a
    format 3 model), `holidays (US)`, `yearly`, `month end` (its calendar block's terms that are on)."""
    uses = ["weekday"] if reads_weekday else []
    if block is None:
        return uses
    if block.get("holidays"):
        country = block.get("country")
        uses.append(f"holidays ({country})" if country else "holidays")
    if block.get("yearly") is not None:
        uses.append("yearly")
    if block.get("month_end") is not None:
        uses.append("month end")
    return uses


def check_calendar(block: Any, where: str) -> None:
    """The `calendar` block the handler relies on; ValueError names the field."""
    if not isinstance(block, Mapping):
        raise ValueError(f"{where}: calendar must be an object")
    holidays = block.get("holidays")
    if not isinstance(holidays, Mapping) or not all(
        isinstance(day, str) and _is_factor(value) for day, value in holidays.items()
    ):
        raise ValueError(f"{where}: calendar.holidays must map ISO dates to factors >= 0")
    try:
        for day in holidays:
            date.fromisoformat(day)
        date.fromisoformat(str(block.get("holidays_until")))
    except ValueError:
        raise ValueError(f"{where}: calendar dates must be ISO dates (YYYY-MM-DD)") from None
    yearly = block.get("yearly")
    if yearly is not None and (
        not isinstance(yearly, list) or len(yearly) != YEAR_DAYS or not all(map(_is_factor, yearly))
    ):
        raise ValueError(f"{where}: calendar.yearly must be null or {YEAR_DAYS} factors >= 0")
    month_end = block.get("month_end")
    if month_end is not None and (
        not isinstance(month_end, Mapping)
        or not isinstance(month_end.get("days"), int)
        or not 1 <= month_end["days"] <= 7
        or not _is_factor(month_end.get("factor"))
    ):
        raise ValueError(f"{where}: calendar.month_end must be null or {{days: 1..7, factor: >= 0}}")
    if not _is_factor(block.get("floor")) or not 0 < block["floor"] <= 1:
        raise ValueError(f"{where}: calendar.floor must be a number within (0, 1]")


def _is_factor(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def parse_last_date(value: Any) -> date | None:
    """The request's optional `last_date` (ISO date of the window's last value); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"last_date must be an ISO date string like 2024-12-23, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"last_date must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def year_position(day: date) -> int:
    """Index of `day` in a 366-day table (its day of a leap year, Jan 1 = 0)."""
    return date(LEAP_YEAR, day.month, day.day).timetuple().tm_yday - 1


def day_factor(block: Mapping[str, Any], day: date) -> float:
    """The calendar factor of one day: holiday × time of year × month's end (1 where a term is off)."""
    factor = float(block["holidays"].get(day.isoformat(), 1.0))
    yearly = block.get("yearly")
    if yearly is not None:
        factor *= float(yearly[year_position(day)])
    month_end = block.get("month_end")
    if month_end is not None:
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day > last - int(month_end["days"]):
            factor *= float(month_end["factor"])
    return factor


def request_factors(
    block: Mapping[str, Any], last_date: date, window_size: int, horizon: int
) -> tuple[list[float], list[float]]:
    """(factors of the window's days, oldest first; factors of the `horizon` days after `last_date`)."""
    window = [day_factor(block, last_date - timedelta(days=back)) for back in range(window_size - 1, -1, -1)]
    ahead = [day_factor(block, last_date + timedelta(days=step)) for step in range(1, horizon + 1)]
    return window, ahead


def next_weekday(last_date: date | None) -> int:
    """The weekday (Monday 0) of the day after `last_date`, the first day a request forecasts;
    `WEEKDAY_UNKNOWN` without a date."""
    return WEEKDAY_UNKNOWN if last_date is None else (last_date + timedelta(days=1)).weekday()


def coverage_note(block: Mapping[str, Any], last_date: date, horizon: int) -> str | None:
    """A note when the target days lie past the holidays the version knows (their factor is 1)."""
    until = date.fromisoformat(block["holidays_until"])
    if last_date + timedelta(days=horizon) > until:
        return (
            f"public holidays after {until} are not known to this version (retrain it): "
            "treated as normal days"
        )
    return None


def closed_note(block: Mapping[str, Any], last_date: date, horizon: int) -> str | None:
    """A note naming the target days forecast as closed (factor 0: the shop sold nothing on that
    holiday before), so a forecast of 0 says why; None when there are none."""
    ahead = (last_date + timedelta(days=step) for step in range(1, horizon + 1))
    closed = [day.isoformat() for day in ahead if day_factor(block, day) == 0.0]
    if not closed:
        return None
    return f"closed on {', '.join(closed)} (nothing was sold on that holiday before): forecast 0"


def calendar_summary(block: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Which calendar terms a version applies (None: none), for describe and `GET /api/models`."""
    if block is None:
        return None
    return {
        "country": block.get("country"),
        "holidays": len(block["holidays"]),
        "holidays_until": block["holidays_until"],
        "yearly": block.get("yearly") is not None,
        "month_end": block.get("month_end") is not None,
    }
