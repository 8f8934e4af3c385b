"""`salescast archive (--category NAME ... | --all) [--version V]` — pack trained versions into model_store/.

The archive is what TorchServe serves: `<model_store>/<slug>-<version>.mar` (see serving/archive.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.errors import SalescastError
from core.settings import Settings
from salescast.cli.options import UsageError, add_category_choice


def register(subparsers: Any) -> None:
    """Add the `archive` command."""
    parser = subparsers.add_parser(
        "archive",
        help="pack trained versions into TorchServe archives (.mar) in model_store/",
        description="Pack the newest (or --version) trained version of categories into model_store/.",
    )
    add_category_choice(parser, "archive", "every category that has a trained version")
    parser.add_argument("--version", metavar="V", help="training version to archive (one --category only)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from serving.archive import archive_version, trained_categories

    if args.version and (args.all or len(args.categories) != 1):
        raise UsageError("--version names one training version: use it with a single --category")
    categories: list[str] = trained_categories(settings) if args.all else list(args.categories)
    if not categories:
        raise UsageError(
            f"no trained category under {settings.paths.artifacts}; train first: salescast train --all"
        )
    failures = 0
    for category in categories:
        try:
            info = archive_version(settings, category, args.version)
        except SalescastError as exc:
            print(f"{category}: archiving failed: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"{category}: archived version {info.version} as model {info.model_name} → {info.path}")
    return 1 if failures else 0
