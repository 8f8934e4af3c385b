"""`salescast bench` — accuracy against baselines, serving cost per layer, training cost.

salescast bench accuracy [--data PATH | --profile default|store|shop|multiyear|retailer]
                         [--seeds 42,43,44] [--folds K] [--fold-days D] [--out DIR] [--no-statistical]
                         [--date-column NAME] [--category-column NAME] [--amount-column NAME]
                         [--date-format FMT]
salescast bench compare BEFORE.json AFTER.json [--out DIR]
salescast bench targets REPORT.json [REPORT.json ...] [--out DIR]
salescast bench reconciliation [--data PATH | --profile P] [--folds K] [--fold-days D] [--out DIR]
salescast bench serving [--duration S] [--concurrency 1,16,64] [--out DIR] [--tune]
salescast bench training [--years 1,2,4] [--max-epochs N] [--out DIR]
salescast bench scale [--categories 3,30,300] [--max-loaded N] [--training-only] [--out DIR]

Each writes `<out>/<name>.json` and `<out>/<name>.md` (the tables docs/benchmarks.md quotes) and
prints the Markdown. Defaults come from the `bench` section of the config.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from core.settings import Settings
from salescast.cli.options import UsageError, add_column_mapping, column_mapping

if TYPE_CHECKING:
    from core.sample_data import Profile

ACCURACY_PROFILES: tuple[Profile, ...] = ("default", "store", "shop", "multiyear", "retailer")


def register(subparsers: Any) -> None:
    """Add the `bench` command with its sub-commands (accuracy, compare, targets, reconciliation, serving,
    training, scale, forecast-cache)."""
    parser = subparsers.add_parser("bench", help="benchmarks: accuracy, serving cost, training cost")
    actions = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCH")

    accuracy = actions.add_parser("accuracy", help="rolling-origin accuracy of the model vs baselines")
    source = accuracy.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, metavar="PATH", help="CSV or .csv.gz (default: data.path)")
    source.add_argument(
        "--profile",
        choices=ACCURACY_PROFILES,
        help="a generated sample like a real export: `store` (4 years, level shifts, large orders), "
        "`shop` (1 year, ~45 %% of days without sales), `multiyear` (4 years, Nov-Dec peak, public "
        "holidays of data.holiday_country; e.g. --folds 12 for a year of monthly origins), `retailer` "
        "(2 years, bench.retailer_categories categories: at 8, 5 weekly and 2 intermittent ones scored, "
        "the one launched weeks before the end left out; 8 min at 3 seeds on 2 cores), or the "
        "bundled `default`",
    )
    accuracy.add_argument(
        "--seeds", type=_int_list, metavar="42,43,44", help="training seeds (default: bench.seeds)"
    )
    accuracy.add_argument("--folds", type=_positive, metavar="K", help="folds (default: bench.folds)")
    accuracy.add_argument(
        "--fold-days", type=_positive, metavar="D", help="days per fold (default: bench.fold_days)"
    )
    accuracy.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    accuracy.add_argument("--no-statistical", action="store_true", help="skip AutoETS/AutoARIMA")
    add_column_mapping(accuracy)
    accuracy.set_defaults(handler=_accuracy)

    compare = actions.add_parser(
        "compare", help="two accuracy reports of the same command side by side: what a change moved"
    )
    compare.add_argument("before", type=Path, metavar="BEFORE.json", help="accuracy-*.json before the change")
    compare.add_argument("after", type=Path, metavar="AFTER.json", help="accuracy-*.json after it")
    compare.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    compare.set_defaults(handler=_compare)

    targets = actions.add_parser(
        "targets", help="accuracy reports against issue 23's targets (signal test, bounds, coverage)"
    )
    targets.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json", help="accuracy-*.json")
    targets.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    targets.set_defaults(handler=_targets)

    reconciliation = actions.add_parser(
        "reconciliation", help="the categories reconciled with the file's total (MinT) vs not"
    )
    source = reconciliation.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, metavar="PATH", help="CSV or .csv.gz (default: data.path)")
    source.add_argument("--profile", choices=ACCURACY_PROFILES, help="a generated sample, as for accuracy")
    reconciliation.add_argument("--folds", type=_positive, metavar="K", help="folds (default: bench.folds)")
    reconciliation.add_argument(
        "--fold-days", type=_positive, metavar="D", help="days per fold (default: bench.fold_days)"
    )
    reconciliation.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)"
    )
    add_column_mapping(reconciliation)
    reconciliation.set_defaults(handler=_reconciliation)

    serving = actions.add_parser("serving", help="requests/s and latency per serving layer")
    serving.add_argument("--duration", type=float, metavar="S", help="seconds per layer and concurrency")
    serving.add_argument("--concurrency", type=_int_list, metavar="1,16,64", help="concurrent clients")
    serving.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    serving.add_argument(
        "--tune", action="store_true", help="also compare TorchServe workers / batch size / batch delay"
    )
    serving.set_defaults(handler=_serving)

    training = actions.add_parser("training", help="wall time and peak memory of training")
    training.add_argument("--years", type=_float_list, metavar="1,2,4", help="generated history lengths")
    training.add_argument(
        "--max-epochs",
        type=_positive,
        metavar="N",
        help="epochs per run (default: bench.training_max_epochs)",
    )
    training.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    training.set_defaults(handler=_training)

    scale = actions.add_parser(
        "scale", help="many categories: training, TorchServe memory, start-up, latency, UI"
    )
    scale.add_argument(
        "--categories", type=_int_list, metavar="3,30,300", help="category counts of the retailer"
    )
    scale.add_argument(
        "--max-loaded",
        type=int,
        metavar="N",
        help="serve under a memory budget of N loaded versions (torchserve.max_loaded_models)",
    )
    scale.add_argument(
        "--training-only", action="store_true", help="measure `train --all` only (no serving, no UI)"
    )
    scale.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    scale.set_defaults(handler=_scale)

    cache = actions.add_parser(
        "forecast-cache", help="GET /api/forecast cached vs not, in-process and in Redis, side by side"
    )
    cache.add_argument("--categories", type=_positive, default=30, help="retailer categories to serve")
    cache.add_argument("--hits", type=_positive, default=5, help="cached asks per category and horizon")
    cache.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    cache.set_defaults(handler=_forecast_cache)


def _accuracy(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.accuracy import run_accuracy
    from salescast.bench.optimum import profile_optimum
    from salescast.bench.report import accuracy_markdown, plot_accuracy

    out = _out(args, settings)
    data, settings = _bench_data(args, out, settings)
    generated: Profile | None = args.profile or ("default" if args.data is None else None)
    report = run_accuracy(
        settings,
        data,
        folds=args.folds,
        fold_days=args.fold_days,
        seeds=args.seeds or settings.bench.seeds,
        statistical=not args.no_statistical,
        optimum=profile_optimum(generated, settings, data) if generated is not None else None,
    )
    stem = f"accuracy-{data.name.split('.')[0]}"
    plot_accuracy(report, out / f"{stem}.png")
    return _report(out / stem, report.to_dict(), accuracy_markdown(report), also=".png")


def _bench_data(args: argparse.Namespace, out: Path, settings: Settings) -> tuple[Path, Settings]:
    """The file `--data` or `--profile` names (the bundled sample without either), with the settings
    to read it (`--date-column` and friends; a profile's own)."""
    from core.sample_data import ensure_sample_data

    mapping = column_mapping(args)
    if mapping:
        settings = settings.with_overrides({"data": mapping})
    if args.profile not in (None, "default"):
        return profile_sample(args.profile, out, settings)
    data = Path(args.data) if args.data else ensure_sample_data(settings)
    if not data.is_file():
        raise UsageError(f"--data {data}: no such file")
    return data, settings


def _reconciliation(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.reconciliation import reconciliation_markdown, run_reconciliation

    out = _out(args, settings)
    data, settings = _bench_data(args, out, settings)
    report = run_reconciliation(settings, data, folds=args.folds, fold_days=args.fold_days)
    return _report(out / f"reconciliation-{data.name.split('.')[0]}", report, reconciliation_markdown(report))


def profile_sample(profile: Profile, out: Path, settings: Settings) -> tuple[Path, Settings]:
    """Write `profile`'s generated file into `out` (seed and start from `sample`) and return it with
    the settings to score it: the retailer's launched categories, too short for any fold, left out."""
    from core.retailer_sample import category_name, retailer_kinds, write_retailer_sample
    from core.sample_data import PROFILE_YEARS, write_sample

    sample = settings.sample
    data = out / f"sample-{profile}.csv"
    if profile == "retailer":
        kinds = retailer_kinds(settings.bench.retailer_categories)
        write_retailer_sample(data, sample.seed, sample.start, categories=len(kinds))
        scored = [category_name(kind, i) for i, kind in enumerate(kinds, start=1) if kind != "launched"]
        return data, settings.with_overrides({"data": {"categories": scored}})
    country = settings.data.holiday_country
    write_sample(
        data, sample.seed, sample.start, PROFILE_YEARS[profile], profile=profile, holiday_country=country
    )
    return data, settings


def _forecast_cache(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.forecast_cache import markdown, run

    out = _out(args, settings)
    report = run(settings, out / "forecast-cache-work", args.categories, args.hits)
    return _report(out / "forecast-cache", report, markdown(report["runs"], report["categories"]))


def _serving(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.serving_load import run_serving_bench
    from salescast.bench.serving_markdown import serving_markdown

    bench = settings.bench
    duration_s = args.duration or bench.serving_duration_s
    concurrency = args.concurrency or bench.serving_concurrency
    run = partial(run_serving_bench, settings, duration_s=duration_s, concurrency=concurrency, tune=args.tune)
    return _run_and_report(_out(args, settings), "serving", run, serving_markdown)


def _training(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.training_cost import run_training_bench, training_markdown

    years = args.years or settings.bench.training_years
    max_epochs = args.max_epochs or settings.bench.training_max_epochs
    run = partial(run_training_bench, settings, years=years, max_epochs=max_epochs)
    return _run_and_report(_out(args, settings), "training", run, training_markdown)


def _scale(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.scale import DEFAULT_SIZES, run_scale_bench
    from salescast.bench.scale_report import scale_markdown

    if args.max_loaded is not None:
        if args.max_loaded < 1:
            raise UsageError(f"--max-loaded must be at least 1, got {args.max_loaded}")
        settings = settings.with_overrides({"torchserve": {"max_loaded_models": args.max_loaded}})
    sizes = args.categories or DEFAULT_SIZES
    run = partial(run_scale_bench, settings, sizes=sizes, serve=not args.training_only)
    return _run_and_report(_out(args, settings), "scale", run, scale_markdown)


class _BenchResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


_Result = TypeVar("_Result", bound=_BenchResult)


def _run_and_report(
    out: Path, name: str, run: Callable[..., _Result], markdown: Callable[[_Result], str]
) -> int:
    """`run(work_dir=<out>/<name>-work)`, then its `<out>/<name>.json` and `.md`."""
    result = run(work_dir=out / f"{name}-work")
    return _report(out / name, result.to_dict(), markdown(result))


def _compare(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.accuracy_compare import compare_accuracy, comparison_markdown, load_accuracy_report

    comparison = compare_accuracy(load_accuracy_report(args.before), load_accuracy_report(args.after))
    stem = _out(args, settings) / f"compare-{args.after.stem}"
    return _report(stem, comparison, comparison_markdown(comparison))


def _targets(args: argparse.Namespace, settings: Settings) -> int:
    from salescast.bench.accuracy_compare import load_accuracy_report
    from salescast.bench.targets import check_targets, report_name, targets_markdown

    loaded = [load_accuracy_report(path) for path in args.reports]
    names = [report_name(path, report) for path, report in zip(args.reports, loaded, strict=True)]
    if len(set(names)) < len(names):  # e.g. before and after a change, on one file
        names = [str(path) for path in args.reports]
    reports = list(zip(names, loaded, strict=True))
    data = {
        name: [found.as_dict() for found in check_targets(report, str(path))]
        for path, (name, report) in zip(args.reports, reports, strict=True)
    }
    return _report(_out(args, settings) / "targets", data, targets_markdown(reports) + "\n")


def _report(stem: Path, data: dict[str, Any], markdown: str, also: str = "") -> int:
    """Write a bench's `<stem>.json` and `.md` atomically and print the markdown."""
    from core.atomic import write_json_atomic, write_text_atomic

    write_json_atomic(stem.with_name(f"{stem.name}.json"), data)
    write_text_atomic(stem.with_name(f"{stem.name}.md"), markdown)
    print(markdown)
    print(f"wrote {stem}.json, .md{', ' + also if also else ''}")
    return 0


def _out(args: argparse.Namespace, settings: Settings) -> Path:
    out = Path(args.out or settings.bench.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    return [_positive(part.strip()) for part in text.split(",") if part.strip()] or _fail(text)


def _float_list(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 1,2,4, got {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 1,2,4, got {text!r}")
    return values


def _fail(text: str) -> list[int]:
    raise argparse.ArgumentTypeError(f"expected a comma list of positive integers, got {text!r}")
