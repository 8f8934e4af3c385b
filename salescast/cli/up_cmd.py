"""`salescast up` / `down` — the whole local stack with one command, and its stop; `train-missing` —
the model preparation step of `up` alone (the compose trainer's entrypoint)."""

from __future__ import annotations

import argparse
from typing import Any

from core.settings import Settings


def register(subparsers: Any) -> None:
    """Add the `up` and `down` commands."""
    up = subparsers.add_parser(
        "up",
        help="train missing models, then run TorchServe + gateway + UI + MLflow UI until Ctrl-C",
    )
    up.set_defaults(handler=_up, foreground=True)
    down = subparsers.add_parser("down", help="stop the stack started by `salescast up` (from any shell)")
    down.set_defaults(handler=_down)
    missing = subparsers.add_parser(
        "train-missing",
        help="create the sample data if missing, train + archive every category without an archive, exit",
    )
    missing.add_argument("--all", action="store_true", help="retrain every category, archived or not")
    missing.set_defaults(handler=_train_missing)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.local_stack import up

    return up(settings, args.config)


def _train_missing(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.local_stack import train_missing

    return train_missing(settings, args.config, retrain_all=args.all)


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.local_stack import down

    return down(settings)
