"""`salescast train` — train one CNN-LSTM per category, print a summary, archive (and deploy) the results.

Torch, Lightning, MLflow and the serving modules are imported inside the handler so
`salescast --help` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.errors import SalescastError
from core.settings import Settings

if TYPE_CHECKING:
    from serving.archive import ArchiveInfo
    from training.pipeline import CategoryResult

logger = logging.getLogger(__name__)

SUMMARY_FORECASTERS = ("model", "naive", "seasonal_naive", "moving_average")


class TrainUsageError(SalescastError):
    """Command-line options of `salescast train` that contradict each other or are malformed."""


def register(subparsers: Any) -> None:
    """Add the `train` command."""
    parser = subparsers.add_parser(
        "train",
        help="train one CNN-LSTM per category (MLflow-tracked), then archive it for TorchServe",
        description="Train each category independently; exit status 1 if any category failed.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--category",
        action="append",
        dest="categories",
        metavar="NAME",
        help="category to train (repeatable)",
    )
    target.add_argument(
        "--all", action="store_true", help="every category (data.categories, `auto` = all in the file)"
    )
    parser.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default: mlflow.experiment)")
    parser.add_argument("--data", type=Path, metavar="PATH", help="sales CSV (default: data.path)")
    parser.add_argument("--max-epochs", type=int, metavar="N", help="override training.max_epochs")
    parser.add_argument("--no-archive", action="store_true", help="do not build .mar archives after training")
    parser.add_argument(
        "--deploy", action="store_true", help="register the new archives with the running TorchServe"
    )
    parser.add_argument(
        "--compare-version",
        action="append",
        default=[],
        metavar="CATEGORY=VERSION",
        help="also score that existing version on the new test days (repeatable)",
    )
    parser.add_argument(
        "--result-json", type=Path, metavar="PATH", help="write the per-category results as JSON"
    )
    parser.add_argument("--date-column", metavar="NAME", help="override data.date_column")
    parser.add_argument("--category-column", metavar="NAME", help="override data.category_column")
    parser.add_argument("--amount-column", metavar="NAME", help="override data.amount_column")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.deploy and args.no_archive:
        raise TrainUsageError("--deploy needs the archives that --no-archive skips; use one of them")
    compare = parse_compare_versions(args.compare_version)
    settings = _apply_overrides(args, settings)

    from training.pipeline import available_categories, train_categories

    categories = args.categories or available_categories(settings, args.data)
    experiment = args.experiment or settings.mlflow.experiment
    results = train_categories(
        categories, experiment, settings, data_path=args.data, compare_versions=compare
    )
    if args.result_json:
        write_results(args.result_json, results)
    print_summary(results, sys.stdout)
    ok = all(result.status == "succeeded" for result in results)
    succeeded = [result for result in results if result.status == "succeeded"]
    if not args.no_archive and succeeded:
        archives, archived_ok = _archive(settings, succeeded)
        ok = ok and archived_ok
        if args.deploy and archives:
            ok = _deploy(settings, archives) and ok
    return 0 if ok else 1


def parse_compare_versions(values: Sequence[str]) -> dict[str, str]:
    """`["Beauty=20250101.120000"]` → `{"Beauty": "20250101.120000"}` (the last `=` splits)."""
    compare: dict[str, str] = {}
    for value in values:
        category, sep, version = value.rpartition("=")
        if not sep or not category or not version:
            raise TrainUsageError(f"--compare-version expects CATEGORY=VERSION, got {value!r}")
        compare[category] = version
    return compare


def _apply_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    data = {
        key: value
        for key, value in {
            "date_column": args.date_column,
            "category_column": args.category_column,
            "amount_column": args.amount_column,
        }.items()
        if value is not None
    }
    overrides: dict[str, dict[str, Any]] = {"data": data} if data else {}
    if args.max_epochs is not None:
        overrides["training"] = {"max_epochs": args.max_epochs}
    return settings.with_overrides(overrides) if overrides else settings


def write_results(path: Path, results: Sequence[CategoryResult]) -> None:
    """The list of `CategoryResult.to_dict()`, written atomically (the gateway's job runner reads it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([result.to_dict() for result in results], indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def print_summary(results: Sequence[CategoryResult], out: TextIO) -> None:
    """One row per category: status, version, seconds, test RMSE and MAE of the model and each baseline."""
    header = ["category", "status", "version", "seconds"]
    header += [f"rmse {name}" for name in SUMMARY_FORECASTERS]
    header += [f"mae {name}" for name in SUMMARY_FORECASTERS]
    rows = [header]
    for result in results:
        row = [result.category, result.status, result.version or "-", f"{result.seconds:.1f}"]
        test = (result.metrics or {}).get("test", {})
        for metric in ("rmse", "mae"):
            row += [_number(test.get(name, {}).get(metric)) for name in SUMMARY_FORECASTERS]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    for result in results:
        if result.error:
            out.write(f"{result.category}: {result.error}\n")


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _archive(settings: Settings, results: Sequence[CategoryResult]) -> tuple[list[ArchiveInfo], bool]:
    from serving.archive import archive_version

    archives: list[ArchiveInfo] = []
    ok = True
    for result in results:
        try:
            archive = archive_version(settings, result.category, result.version)
        except SalescastError as exc:
            print(f"{result.category}: archiving failed: {exc}", file=sys.stderr)
            ok = False
            continue
        archives.append(archive)
        print(f"{result.category}: archived {archive.path}")
    return archives, ok


def _deploy(settings: Settings, archives: Sequence[ArchiveInfo]) -> bool:
    from serving.deploy import deploy_archive
    from serving.management_client import ManagementClient

    url = settings.torchserve.management_base_url

    async def deploy_all() -> bool:
        ok = True
        async with ManagementClient(url) as client:
            for archive in archives:
                try:
                    result = await deploy_archive(client, archive, settings)
                except SalescastError as exc:
                    print(f"{archive.category}: deploying to {url} failed: {exc}", file=sys.stderr)
                    ok = False
                    continue
                removed = ", ".join(result.unregistered) or "none"
                print(
                    f"{archive.category}: deployed {result.model_name} version {result.version} to {url} "
                    f"(previous default {result.previous_default or 'none'}, unregistered {removed}, "
                    f"{result.seconds:.1f} s)"
                )
        return ok

    return asyncio.run(deploy_all())
