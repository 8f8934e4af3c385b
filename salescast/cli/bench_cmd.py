"""`salescast bench` — accuracy against baselines, serving cost per layer, training cost.

salescast bench accuracy [--data PATH] [--folds K] [--fold-days D] [--out DIR] [--no-statistical]
salescast bench serving [--duration S] [--concurrency 1,16,64] [--out DIR] [--tune]
salescast bench training [--years 1,2,4] [--max-epochs N] [--out DIR]

Each writes `<out>/<name>.json` and `<out>/<name>.md` (the tables docs/benchmarks.md quotes) and
prints the Markdown. Defaults come from the `bench` section of the config.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.settings import Settings
from salescast.cli.options import UsageError


def register(subparsers: Any) -> None:
    """Add the `bench` command with its `accuracy`, `serving` and `training` sub-commands."""
    parser = subparsers.add_parser("bench", help="benchmarks: accuracy, serving cost, training cost")
    actions = parser.add_subparsers(dest="bench_command", required=True, metavar="BENCH")

    accuracy = actions.add_parser("accuracy", help="rolling-origin accuracy of the model vs baselines")
    accuracy.add_argument("--data", type=Path, metavar="PATH", help="CSV or .csv.gz (default: data.path)")
    accuracy.add_argument("--folds", type=_positive, metavar="K", help="folds (default: bench.folds)")
    accuracy.add_argument(
        "--fold-days", type=_positive, metavar="D", help="days per fold (default: bench.fold_days)"
    )
    accuracy.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: bench.out_dir)")
    accuracy.add_argument("--no-statistical", action="store_true", help="skip AutoETS/AutoARIMA")
    accuracy.set_defaults(handler=_accuracy)

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


def _accuracy(args: argparse.Namespace, settings: Settings) -> int:
    from core.atomic import write_json_atomic, write_text_atomic
    from core.sample_data import ensure_sample_data
    from salescast.bench.accuracy import run_accuracy
    from salescast.bench.report import accuracy_markdown, plot_accuracy

    data = Path(args.data) if args.data else ensure_sample_data(settings)
    if not data.is_file():
        raise UsageError(f"--data {data}: no such file")
    out = _out(args, settings)
    report = run_accuracy(
        settings, data, folds=args.folds, fold_days=args.fold_days, statistical=not args.no_statistical
    )
    stem = f"accuracy-{data.name.split('.')[0]}"
    markdown = accuracy_markdown(report)
    write_json_atomic(out / f"{stem}.json", report.to_dict())
    write_text_atomic(out / f"{stem}.md", markdown)
    plot_accuracy(report, out / f"{stem}.png")
    print(markdown)
    print(f"wrote {out / stem}.json, .md, .png")
    return 0


def _serving(args: argparse.Namespace, settings: Settings) -> int:
    from core.atomic import write_json_atomic, write_text_atomic
    from salescast.bench.serving_load import run_serving_bench, serving_markdown

    out = _out(args, settings)
    result = run_serving_bench(
        settings,
        duration_s=args.duration or settings.bench.serving_duration_s,
        concurrency=args.concurrency or settings.bench.serving_concurrency,
        work_dir=out / "serving-work",
        tune=args.tune,
    )
    markdown = serving_markdown(result)
    write_json_atomic(out / "serving.json", result.to_dict())
    write_text_atomic(out / "serving.md", markdown)
    print(markdown)
    print(f"wrote {out / 'serving'}.json, .md")
    return 0


def _training(args: argparse.Namespace, settings: Settings) -> int:
    from core.atomic import write_json_atomic, write_text_atomic
    from salescast.bench.training_cost import run_training_bench, training_markdown

    out = _out(args, settings)
    result = run_training_bench(
        settings,
        years=args.years or settings.bench.training_years,
        max_epochs=args.max_epochs or settings.bench.training_max_epochs,
        work_dir=out / "training-work",
    )
    markdown = training_markdown(result)
    write_json_atomic(out / "training.json", result.to_dict())
    write_text_atomic(out / "training.md", markdown)
    print(markdown)
    print(f"wrote {out / 'training'}.json, .md")
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
