"""`salescast data` — write the bundled sample dataset, or summarize a sales file per category.

salescast data sample [--out PATH] [--seed N] [--start YYYY-MM-DD] [--years Y]
                      [--profile default|sparse|store|shop|retailer|multiyear] [--force]
salescast data summary [--data PATH] [--date-column NAME] [--category-column NAME]
                       [--amount-column NAME] [--date-format FMT]

`sample` refuses to replace an existing file with other content (it may be real sales data)
unless `--force` is given; regenerating the same sample is always allowed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.sales_data import load_daily_sales
from core.sample_data import PROFILE_YEARS, PROFILES, SampleError, write_sample
from core.settings import Settings
from salescast.cli.options import add_column_mapping, column_mapping

PROFILE_HELP = (
    "`sparse`: ~1000 sales a year; `store`: multi-year store export with level shifts and large orders; "
    "`shop`: 1-year small shop, ~45 %% of days without sales; `retailer`: 2 years, 30 categories of four "
    "kinds; `multiyear`: 4 years, Nov-Dec peak, public holidays of data.holiday_country"
)


def register(subparsers: Any) -> None:
    """Add the `data` command with its `sample` and `summary` sub-commands."""
    parser = subparsers.add_parser("data", help="write the sample dataset or summarize a sales file")
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    sample = actions.add_parser("sample", help="write the deterministic sample transactions (Kaggle schema)")
    sample.add_argument(
        "--out", type=Path, metavar="PATH", help="output .csv or .csv.gz (default: data.path)"
    )
    sample.add_argument("--seed", type=int, help="random seed (default: sample.seed)")
    sample.add_argument("--start", metavar="YYYY-MM-DD", help="first day (default: sample.start)")
    sample.add_argument(
        "--years",
        type=float,
        help="length of the history in years (default: sample.years; store and multiyear 4, shop 1, "
        "sparse and retailer 2)",
    )
    sample.add_argument("--profile", choices=PROFILES, default="default", help=PROFILE_HELP)
    sample.add_argument("--force", action="store_true", help="replace an existing file that differs")
    sample.set_defaults(handler=_sample)

    summary = actions.add_parser("summary", help="per-category daily statistics of a sales file")
    summary.add_argument("--data", type=Path, metavar="PATH", help="CSV or .csv.gz (default: data.path)")
    add_column_mapping(summary)
    summary.set_defaults(handler=_summary)


def _sample(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.out or settings.data.path
    seed = settings.sample.seed if args.seed is None else args.seed
    start = args.start or settings.sample.start
    if args.years is not None:
        years = args.years
    elif args.profile == "default":
        years = settings.sample.years
    else:
        years = PROFILE_YEARS[args.profile]
    try:
        write_sample(
            path,
            seed,
            start,
            years,
            profile=args.profile,
            overwrite=args.force,
            holiday_country=settings.data.holiday_country,
        )
    except SampleError as exc:
        raise SampleError(f"{exc} (pass --force to replace it)") from None
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, profile {args.profile}, seed {seed})")
    return 0


def _summary(args: argparse.Namespace, settings: Settings) -> int:
    # Zero fill regardless of the configured policy: the table reports what was actually sold.
    overrides: dict[str, Any] = {"fill_policy": "zero", "categories": "auto", **column_mapping(args)}
    data = settings.data.model_copy(update=overrides)
    path: Path = args.data or settings.data.path
    sales = load_daily_sales(data, path)
    header = ("category", "days", "first", "last", "total", "mean", "std", "zero days")
    rows = [
        (
            name,
            str(len(series)),
            f"{series.index[0]:%Y-%m-%d}",
            f"{series.index[-1]:%Y-%m-%d}",
            f"{series.sum():,.2f}",
            f"{series.mean():,.2f}",
            f"{series.std(ddof=1) if len(series) > 1 else 0.0:,.2f}",
            f"{np.mean(series.to_numpy() == 0.0):.1%}",
        )
        for name, series in sales.items()
    ]
    amount = data.amount_column
    print(f"{path}: {len(sales)} categories, daily sums of {amount!r}, days without sales counted as 0")
    print(_table(header, rows))
    return 0


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Plain-text table: first column left-aligned, the numbers right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "  ".join("-" * width for width in widths), *map(line, rows)])
