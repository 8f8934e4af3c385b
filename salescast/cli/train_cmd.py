"""`salescast train` — train one CNN-LSTM per category, print a summary, archive (and deploy) the results.

The options (or `--job-spec FILE`, the gateway's way) make one `core.contracts.job_spec.JobSpec`, run by
`salescast.train_job.run_job_spec`; torch, Lightning, MLflow and the serving modules are
imported inside the handler so `salescast --help` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, get_args

from pydantic import ValidationError

from core.contracts.dataset import DatasetColumns
from core.contracts.files import describe_errors
from core.contracts.job_result import CategoryResult, write_results
from core.contracts.job_spec import JobDataset, JobSpec, read_job_spec
from core.errors import SalescastError
from core.sales_data import file_sha256
from core.sample_data import ensure_sample_data
from core.settings import DeployPolicy, Settings
from salescast.cli.options import UsageError, add_category_choice, add_column_mapping, column_mapping

logger = logging.getLogger(__name__)

SUMMARY_FORECASTERS = ("model", "naive", "seasonal_naive", "moving_average")


class JobDatasetError(SalescastError):
    """The job's data file cannot be read, or is not the file the job was queued with."""


def register(subparsers: Any) -> None:
    """Add the `train` command."""
    parser = subparsers.add_parser(
        "train",
        help="train one CNN-LSTM per category (MLflow-tracked), then archive it for TorchServe",
        description="Train each category independently; exit status 1 if any category failed. "
        "The options make a job spec; `--job-spec FILE` runs a spec written before (the gateway's jobs).",
    )
    which = add_category_choice(parser, "train", "every category (data.categories, `auto` = all in the file)")
    which.add_argument(
        "--job-spec",
        type=Path,
        metavar="FILE",
        help="run the job this JSON spec describes (core.contracts.job_spec); it holds the categories, "
        "dataset, deploy policy, output files and every setting, so no other option goes with it",
    )
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
        "--only-changed",
        action="store_true",
        help="train only the categories that are new or whose daily series changed since their latest "
        "version; the others are reported `unchanged`",
    )
    parser.add_argument(
        "--shared-network",
        metavar="ID",
        help="refit each category's own part (level/profile fit and calibration) against shared networks "
        "an earlier run saved (`latest` or an id under <paths.artifacts>/_shared/) instead of training "
        "new ones",
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
    if args.job_spec is not None:
        _refuse_options_beside_spec(args)
        spec = read_job_spec(args.job_spec)
    else:
        spec = job_spec_from_options(args, settings)
    if spec.dataset is not None and spec.dataset.sha256 is not None:
        check_unchanged(spec.dataset.path, spec.dataset.sha256)
    from training import network_pool

    # the workers import torch and Lightning while this process does the same and reads the data; a
    # refit against saved shared networks trains no network, so it starts none
    options = spec.settings
    if spec.shared_network is None:
        network_pool.warm_up(
            network_pool.worker_count(options.training.network_workers, options.model.members)
        )
    from salescast.train_job import run_job_spec

    try:
        results = run_job_spec(spec)
    finally:
        network_pool.shutdown()  # the workers end before this process reports, not after
    if spec.result_path:
        write_results(spec.result_path, results)
    print_summary(results, sys.stdout)
    return 0 if all(result.status != "failed" for result in results) else 1


def job_spec_from_options(args: argparse.Namespace, settings: Settings) -> JobSpec:
    """The job the command-line options describe, checked like a spec file."""
    if args.deploy and args.no_archive:
        raise UsageError("--deploy needs the archives that --no-archive skips; use one of them")
    compare = parse_compare_versions(args.compare_version)
    settings = _apply_overrides(args, settings)
    dataset = None
    if args.data is not None or args.dataset_id is not None:
        data = settings.data
        dataset = JobDataset(
            path=args.data if args.data is not None else ensure_sample_data(settings),
            dataset_id=args.dataset_id,
            columns=DatasetColumns(
                date=data.date_column,
                category=data.category_column,
                amount=data.amount_column,
                date_format=data.date_format,
            ),
        )
    try:
        return JobSpec(
            categories=args.categories or "all",
            experiment=args.experiment or settings.mlflow.experiment,
            dataset=dataset,
            archive=not args.no_archive,
            deploy=args.deploy,
            compare_versions=compare,
            only_changed=args.only_changed,
            shared_network=args.shared_network,
            settings=settings,
            progress_path=args.progress_json,
            result_path=args.result_json,
        )
    except ValidationError as exc:
        raise UsageError(f"invalid training options: {describe_errors(exc)}") from None


def check_unchanged(path: Path, sha256: str) -> None:
    """The job's data file is the one it was queued with (`JobDatasetError` otherwise): a job never
    trains on other data than its record names."""
    try:
        found = file_sha256(path)
    except OSError as exc:
        raise JobDatasetError(f"the job's data file {path} cannot be read ({exc.strerror or exc})") from None
    if found != sha256:
        raise JobDatasetError(
            f"the job's data file {path} changed since the job was queued "
            f"(SHA-256 {found[:12]}…, the job names {sha256[:12]}…)"
        )


def _refuse_options_beside_spec(args: argparse.Namespace) -> None:
    """The spec is the whole job: an option beside it would be silently ignored or contradict it."""
    given = [
        flag
        for flag, value in (
            ("--config", args.config),
            ("--experiment", args.experiment),
            ("--data", args.data),
            ("--max-epochs", args.max_epochs),
            ("--no-archive", args.no_archive or None),
            ("--deploy", args.deploy),
            ("--compare-version", args.compare_version or None),
            ("--only-changed", args.only_changed or None),
            ("--shared-network", args.shared_network),
            ("--result-json", args.result_json),
            ("--progress-json", args.progress_json),
            ("--dataset-id", args.dataset_id),
            *((f"--{key.replace('_', '-')}", value) for key, value in column_mapping(args).items()),
        )
        if value is not None
    ]
    if given:
        raise UsageError(f"--job-spec holds the whole job; drop {', '.join(given)} (set them in the spec)")


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
        if result.status == "unchanged":
            out.write(
                f"{result.category}: unchanged: its data is the data version {result.version} learned from\n"
            )
        elif result.error:
            out.write(f"{result.category}: {result.failed_step or 'training'} failed: {result.error}\n")
        elif result.deployed is not None:
            done = f"deployed {result.version}" if result.deployed else f"{result.version} not deployed"
            out.write(f"{result.category}: {done} ({result.deploy_reason})\n")
        elif result.archive:
            out.write(f"{result.category}: archived {result.archive}\n")
        for warning in result.warnings:
            out.write(f"{result.category}: warning: {warning}\n")
    if results and all(result.status == "unchanged" for result in results):
        out.write("nothing to train: every category's data is unchanged since its latest version\n")


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"
