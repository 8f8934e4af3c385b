"""Which column of an uploaded sales file holds the date, the category and the amount.

A column the user named is taken as named. Otherwise a column is chosen only when the choice is
unambiguous: it is the only column whose values fit the role (dates, amounts, or repeated text), or the
only one of those whose name says so (the configured name first, then common names such as "Order
Date", "Net Sales", "Department"). Two equally good candidates are never guessed between: the error
lists them, so the user can pick. Every choice is reported with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core.errors import SalescastError
from core.sales_data import amount_share, date_share

Role = Literal["date", "category", "amount"]
ROLES: tuple[Role, ...] = ("date", "amount", "category")
FIT_SHARE = 0.95  # share of a column's sample values that must fit a role
_WHAT = {"date": "dates", "amount": "amounts", "category": "category names"}
# Name hints per role, strongest first; a tier picks a column only when exactly one candidate matches it.
_NAME_TIERS: dict[Role, tuple[re.Pattern[str], ...]] = {
    "date": (re.compile(r"date|day|datum|fecha|time|period"),),
    "amount": (
        re.compile(r"amount|total|sales|revenue|turnover|betrag|umsatz|montant|importe"),
        re.compile(r"price|value|net|gross|sum"),
    ),
    "category": (
        re.compile(r"categor|department|dept|segment|family|class|sector|division"),
        re.compile(r"product|group|type|kind|line|store|brand|item"),
    ),
}


class ColumnDetectionError(SalescastError, ValueError):
    """A role's column is missing, not found, or cannot be told apart; the message lists the candidates."""

    def __init__(self, message: str, candidates: list[str] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


@dataclass(frozen=True)
class ColumnChoice:
    """The column chosen for a role and why (`given`: named by the user)."""

    role: Role
    column: str
    reason: str

    @property
    def note(self) -> str:
        return f"{self.role} column {self.column!r}: {self.reason}"


def detect_columns(
    sample: pd.DataFrame,
    given: Mapping[Role, str | None],
    configured: Mapping[Role, str],
    date_format: str | None = None,
) -> dict[Role, ColumnChoice]:
    """A column per role for the file whose header and first rows are `sample` (strings).

    `given` are the user's choices (None = detect), `configured` the names in `data.*_column`.
    Raises `ColumnDetectionError` naming what is missing or which candidates tie.
    """
    header = [str(name) for name in sample.columns]
    chosen: dict[Role, ColumnChoice] = {}
    for role in ROLES:
        name = given.get(role)
        if name is None:
            continue
        if name not in header:
            raise ColumnDetectionError(
                f"{role}_column {name!r} is not a column of the file; its columns are {_names(header)}",
                header,
            )
        chosen[role] = ColumnChoice(role, name, "as given")
    duplicates = {choice.column for choice in chosen.values() if _count(chosen, choice.column) > 1}
    if duplicates:
        raise ColumnDetectionError(f"one column cannot hold two roles: {_names(sorted(duplicates))}")
    for role in ROLES:
        if role not in chosen:
            taken = {choice.column for choice in chosen.values()}
            free = [name for name in header if name not in taken]
            chosen[role] = _detect(role, sample, free, configured.get(role), date_format)
    return {role: chosen[role] for role in ("date", "category", "amount")}


def _detect(
    role: Role, sample: pd.DataFrame, free: list[str], configured: str | None, date_format: str | None
) -> ColumnChoice:
    candidates = [name for name in free if _fits(role, sample[name], date_format)]
    if not candidates:
        raise ColumnDetectionError(
            f"no column holds {_WHAT[role]} in the first {len(sample)} rows (columns left: {_names(free)}); "
            f"name it with {role}_column",
            free,
        )
    if len(candidates) == 1:
        return ColumnChoice(role, candidates[0], f"the only column of {_WHAT[role]}")
    if configured is not None:
        for name in candidates:
            if name.casefold() == configured.casefold():
                return ColumnChoice(role, name, f"the configured name among {_names(candidates)}")
    for tier in _NAME_TIERS[role]:
        named = [name for name in candidates if tier.search(name.casefold())]
        if len(named) == 1:
            return ColumnChoice(role, named[0], f"its name, among {_names(candidates)}")
        if len(named) > 1:
            candidates = named
            break
    raise ColumnDetectionError(
        f"cannot tell which column holds the {role}: {_names(candidates)} all hold {_WHAT[role]}; "
        f"choose one with {role}_column",
        candidates,
    )


def _fits(role: Role, values: pd.Series, date_format: str | None) -> bool:
    texts = values.fillna("").astype(str)
    filled = texts[texts != ""]
    if filled.empty:
        return False
    if role == "date":
        return date_share(filled, date_format) >= FIT_SHARE
    if role == "amount":
        return amount_share(filled) >= FIT_SHARE and date_share(filled, date_format) < FIT_SHARE
    # category: text that repeats (an id column is unique per row), neither numbers nor dates
    repeats = filled.nunique() < len(filled) or len(filled) < 10
    return repeats and amount_share(filled) < 0.5 and date_share(filled, date_format) < 0.5


def _count(chosen: Mapping[Role, ColumnChoice], column: str) -> int:
    return sum(1 for choice in chosen.values() if choice.column == column)


def _names(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names) or "none"
