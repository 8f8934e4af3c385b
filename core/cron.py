"""Five-field cron expressions (`minute hour day-of-month month day-of-week`), parsed and matched.

Small on purpose (no croniter dependency): numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`,
lists `a,b`; day-of-week 0-7 with 0 and 7 both Sunday. As in Vixie cron, when both day fields are
restricted a day matches if either does. Times are wall-clock times of whatever zone the caller uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_SEARCH_DAYS = 5 * 366  # a schedule that matches at all matches within a leap-year cycle


class CronError(ValueError):
    """A cron expression cannot be parsed or never fires; the message says which field and why."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression: the allowed values of each field."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, moment: datetime) -> bool:
        """Whether the minute of `moment` is a scheduled one (seconds are ignored)."""
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self._day_matches(moment)
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled minute strictly after `moment` (same tzinfo, seconds zero)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=_SEARCH_DAYS)
        while candidate < limit:
            if candidate.month not in self.months:
                year, month = divmod(candidate.month, 12)
                candidate = candidate.replace(
                    year=candidate.year + year, month=month + 1, day=1, hour=0, minute=0
                )
            elif not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += timedelta(minutes=1)
            else:
                return candidate
        raise CronError(f"cron {self.expression!r} never fires (no matching day in {_SEARCH_DAYS} days)")

    def _day_matches(self, moment: datetime) -> bool:
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day or weekday
        return day and weekday


def parse_cron(expression: str) -> CronSchedule:
    """Parse `expression`; `CronError` names the field and the part it could not read."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise CronError(
            f"cron {expression!r} has {len(parts)} fields; expected 5: minute hour day-of-month month "
            "day-of-week (e.g. '0 3 * * *' = every day at 03:00)"
        )
    values = [_field(part, name, low, high) for part, (name, low, high) in zip(parts, _FIELDS, strict=True)]
    schedule = CronSchedule(
        expression=expression,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=frozenset(day % 7 for day in values[4]),
        days_restricted=parts[2] != "*",
        weekdays_restricted=parts[4] != "*",
    )
    schedule.next_after(datetime(2000, 1, 1))  # e.g. '0 0 30 2 *' (30 February) never fires
    return schedule


def _field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    allowed: set[int] = set()
    for item in text.split(","):
        allowed.update(_item(item, text, name, low, high))
    return frozenset(allowed)


def _item(item: str, text: str, name: str, low: int, high: int) -> range:
    where = f"cron {name} field {text!r}"
    span, _, step_text = item.partition("/")
    step = _number(step_text, where) if step_text else 1
    if step < 1:
        raise CronError(f"{where}: step must be at least 1")
    if span == "*":
        start, stop = low, high
    elif "-" in span:
        first, _, last = span.partition("-")
        start, stop = _number(first, where), _number(last, where)
        if start > stop:
            raise CronError(f"{where}: range {span!r} runs backwards")
    else:
        start = _number(span, where)
        stop = high if step_text else start  # '5/15' = from 5 every 15, as cron reads it
    if start < low or stop > high:
        raise CronError(f"{where}: {item!r} is outside {low}-{high}")
    return range(start, stop + 1, step)


def _number(text: str, where: str) -> int:
    if not text.isdigit():
        raise CronError(f"{where}: {text!r} is not a number (names like MON or JAN are not supported)")
    return int(text)
