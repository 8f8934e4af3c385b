"""`salescast train` — train one CNN-LSTM per category, print a summary, archive (and deploy) the results.

The work is `salescast.train_job.run_train_job`; torch, Lightning, MLflow and the serving modules are
imported inside the handler so `salescast --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, get_args

from core.contracts.job_result import CategoryResult, write_results
from core.settings import DeployPolicy, Settings
from salescast.cli.options import UsageError, add_category_choice, add_column_mapping, column_mapping

logger = logging.getLogger(__name__)

SUMMARY_FORECASTERS = ("model", "naive", "seasonal_naive", "moving_average")


def register(subparsers: Any) -> None:
    """Add the `train` command."""
    parser = subparsers.add_parser(
        "train",
        help="train one CNN-LSTM per category (MLflow-tracked), then archive it for TorchServe",
        description="Train each category independently; exit status 1 if any category failed.",
    )
    add_category_choice(parser, "train", "every category (data.categories, `auto` = all in the file)")
    parser.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default: mlflow.experiment)")
    parser.add_argument("--data", type=Path, metavar="PATH", help="sales CSV (default: data.path)")
    parser.add_argument("--max-epochs", type=int, metavar="N", help="override training.max_epochs")
    parser.add_argument("--no-archive", action="store_true", help="do not build .mar archives after training")
    parser.add_argument(
        "--deploy",
        nargs="?",
        const="always",
        choices=get_args(DeployPolicy),
        metavar="POLICY",
        help="archive and hot-swap into the running TorchServe: `always` (the default when no POLICY is "
        "given), `if_better` (beats seasonal naive and the served version) or `never`",
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
    parser.add_argument(
        "--progress-json",
        type=Path,
        metavar="PATH",
        help="keep a JSON file of each category's state, epoch and losses up to date while training",
    )
    add_column_mapping(parser)
    parser.add_argument(
        "--dataset-id",
        metavar="ID",
        help="record this dataset id (an upload's, see GET /api/datasets) with every version trained",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.deploy and args.no_archive:
        raise UsageError("--deploy needs the archives that --no-archive skips; use one of them")
    compare = parse_compare_versions(args.compare_version)
    settings = _apply_overrides(args, settings)

    from training import network_pool

    # the workers import torch and Lightning while this process does the same and reads the data
    network_pool.warm_up(network_pool.worker_count(settings.training.network_workers, settings.model.members))
    from salescast.train_job import run_train_job
    from training.pipeline import available_categories

    try:
        categories = args.categories or available_categories(settings, args.data)
        results = run_train_job(
            settings,
            categories,
            args.experiment or settings.mlflow.experiment,
            data_path=args.data,
            compare_versions=compare,
            archive=not args.no_archive,
            deploy_policy=args.deploy,
            progress_path=args.progress_json,
            dataset_id=args.dataset_id,
        )
    finally:
        network_pool.shutdown()  # the workers end before this process reports, not after
    if args.result_json:
        write_results(args.result_json, results)
    print_summary(results, sys.stdout)
    return 0 if all(result.status == "succeeded" for result in results) else 1


def parse_compare_versions(values: Sequence[str]) -> dict[str, str]:
    """`["Beauty=20250101.120000"]` → `{"Beauty": "20250101.120000"}` (the last `=` splits)."""
    compare: dict[str, str] = {}
    for value in values:
        category, sep, version = value.rpartition("=")
        if not sep or not category or not version:
            raise UsageError(f"--compare-version expects CATEGORY=VERSION, got {value!r}")
        compare[category] = version
    return compare


def _apply_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    data = column_mapping(args)
    overrides: dict[str, dict[str, Any]] = {"data": data} if data else {}
    if args.max_epochs is not None:
        overrides["training"] = {"max_epochs": args.max_epochs}
    return settings.with_overrides(overrides) if overrides else settings


def print_summary(results: Sequence[CategoryResult], out: TextIO) -> None:
    """One row per category: status, version, seconds, test RMSE and MAE of the model and each baseline."""
    header = ["category", "status", "version", "seconds"]
    header += [f"rmse {name}" for name in SUMMARY_FORECASTERS]
    header += [f"mae {name}" for name in SUMMARY_FORECASTERS]
    rows = [header]
    for result in results:
        row = [result.category, result.status, result.version or "-", f"{result.seconds:.1f}"]
        test = result.metrics.test if result.metrics else {}
        for metric in ("rmse", "mae"):
            row += [_number(getattr(test.get(name), metric, None)) for name in SUMMARY_FORECASTERS]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    for result in results:
        if result.error:
            out.write(f"{result.category}: {result.failed_step or 'training'} failed: {result.error}\n")
        elif result.deployed is not None:
            done = f"deployed {result.version}" if result.deployed else f"{result.version} not deployed"
            out.write(f"{result.category}: {done} ({result.deploy_reason})\n")
        elif result.archive:
            out.write(f"{result.category}: archived {result.archive}\n")
        for warning in result.warnings:
            out.write(f"{result.category}: warning: {warning}\n")


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"
