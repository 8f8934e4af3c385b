"""`salescast up` / `salescast down` — the whole local stack with one command, and its stop."""

from __future__ import annotations

import argparse
from typing import Any

from salescast.settings import Settings


def register(subparsers: Any) -> None:
    """Add the `up` and `down` commands."""
    up = subparsers.add_parser(
        "up",
        help="train missing models, then run TorchServe + gateway + UI + MLflow UI until Ctrl-C",
    )
    up.set_defaults(handler=_up)
    down = subparsers.add_parser("down", help="stop the stack started by `salescast up` (from any shell)")
    down.set_defaults(handler=_down)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.stack import up

    return up(settings, args.config)


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.stack import down

    return down(settings)
