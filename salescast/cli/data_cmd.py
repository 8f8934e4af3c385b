"""`salescast data` — not implemented yet."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `data` command."""
    parser = subparsers.add_parser("data", help="(not implemented yet)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Any) -> int:
    raise SystemExit("salescast data: not implemented yet")
