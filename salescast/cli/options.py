"""What several commands share on their command line: the usage error and the category choice."""

from __future__ import annotations

import argparse

from core.errors import SalescastError


class UsageError(SalescastError):
    """Command-line options that contradict each other or are malformed (exit status 2)."""


def add_category_choice(parser: argparse.ArgumentParser, verb: str, everything: str) -> None:
    """`--category NAME` (repeatable, into `args.categories`) or `--all`, one of them required."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--category",
        action="append",
        dest="categories",
        metavar="NAME",
        help=f"category to {verb} (repeatable)",
    )
    which.add_argument("--all", action="store_true", help=everything)
