"""What several commands share on their command line: the usage error and the category choice."""

from __future__ import annotations

import argparse
from typing import Any

from core.errors import SalescastError


class UsageError(SalescastError):
    """Command-line options that contradict each other or are malformed (exit status 2)."""


def add_category_choice(
    parser: argparse.ArgumentParser, verb: str, everything: str
) -> argparse._MutuallyExclusiveGroup:
    """`--category NAME` (repeatable, into `args.categories`) or `--all`, one of them required; returns
    the group, for a command with another way to name its categories (`train --job-spec`)."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--category",
        action="append",
        dest="categories",
        metavar="NAME",
        help=f"category to {verb} (repeatable)",
    )
    which.add_argument("--all", action="store_true", help=everything)
    return which


def add_column_mapping(parser: argparse.ArgumentParser) -> None:
    """Which columns of the CSV hold the date, the category and the amount, and the date format."""
    parser.add_argument("--date-column", metavar="NAME", help="default: data.date_column")
    parser.add_argument("--category-column", metavar="NAME", help="default: data.category_column")
    parser.add_argument("--amount-column", metavar="NAME", help="default: data.amount_column")
    parser.add_argument("--date-format", metavar="FMT", help='strftime format, e.g. "%%d/%%m/%%Y"')


def column_mapping(args: argparse.Namespace) -> dict[str, Any]:
    """The `data` settings the mapping options override (only those given)."""
    given = {
        "date_column": args.date_column,
        "category_column": args.category_column,
        "amount_column": args.amount_column,
        "date_format": args.date_format,
    }
    return {key: value for key, value in given.items() if value is not None}
