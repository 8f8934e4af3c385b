"""`salescast bench serving`'s report as the Markdown tables docs/benchmarks.md quotes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from salescast.bench.load import LoadResult
from salescast.bench.report import markdown_table
from salescast.bench.serving_report import ServingReport

Column = tuple[str, Callable[[Any], str]]
"""A table column: its header and how a row (a result or a ratio row) is written in it."""


def _field(key: str, spec: str) -> Callable[[Mapping[str, Any]], str]:
    """A ratio row's `key` written with format `spec` (NaN when the row lacks it)."""
    return lambda row: format(row.get(key, math.nan), spec)


def _table(columns: Sequence[Column], rows: Sequence[Any]) -> str:
    return markdown_table(
        [header for header, _ in columns], [[cell(row) for _, cell in columns] for row in rows]
    )


RESULTS: list[Column] = [
    ("layer", lambda r: r.layer),
    ("concurrency", lambda r: str(r.concurrency)),
    ("items/s", lambda r: f"{r.items_per_s:.0f}"),
    ("p50 ms", lambda r: f"{r.percentile_ms(50):.1f}"),
    ("p99 ms", lambda r: f"{r.percentile_ms(99):.1f}"),
    ("errors", lambda r: str(r.errors)),
    ("requests", lambda r: str(r.requests)),
    ("CPU ms/item: TorchServe", lambda r: _cpu_cell(r, "torchserve")),
    ("gateway", lambda r: _cpu_cell(r, "gateway") if r.layer.startswith("gateway") else ""),
    ("in-process", lambda r: _cpu_cell(r, "in-process")),
]
# Columns both ratio tables show (single predictions and batches).
CONCURRENCY: Column = ("concurrency", _field("concurrency", "g"))
GATEWAY_OVER_TORCHSERVE: Column = ("gateway/TorchServe items/s", _field("gateway_over_torchserve_rps", ".3f"))
TORCHSERVE_OVER_FLOOR: Column = ("TorchServe/floor items/s", _field("torchserve_over_floor_rps", ".3f"))
CPU_RATIO: Column = ("gateway/TorchServe CPU", _field("gateway_over_torchserve_cpu", ".3f"))
SINGLE_RATIOS: list[Column] = [
    CONCURRENCY,
    GATEWAY_OVER_TORCHSERVE,
    ("gateway added p50 ms", _field("gateway_added_p50_ms", "+.2f")),
    TORCHSERVE_OVER_FLOOR,
    ("gateway/TorchServe p50", _field("gateway_over_torchserve_p50", ".3f")),
    ("TorchServe/floor p50", _field("torchserve_over_floor_p50", ".1f")),
    CPU_RATIO,
]
BATCH_RATIOS: list[Column] = [
    CONCURRENCY,
    GATEWAY_OVER_TORCHSERVE,
    TORCHSERVE_OVER_FLOOR,
    ("gateway/floor items/s", _field("gateway_over_floor_rps", ".3f")),
    CPU_RATIO,
]
SCALING: list[Column] = [
    ("concurrency", lambda row: f"{row['from']:g} → {row['to']:g}"),
    ("TorchServe items/s", _field("torchserve_rps_ratio", ".3f")),
    ("TorchServe p99 ms", _field("torchserve_p99_ms", ".1f")),
    ("gateway items/s", _field("gateway_rps_ratio", ".3f")),
    ("gateway p99 ms", _field("gateway_p99_ms", ".1f")),
]
TUNING: list[Column] = [
    ("workers", lambda tr: str(tr[0].workers)),
    ("batch_size", lambda tr: str(tr[0].batch_size)),
    ("max_batch_delay_ms", lambda tr: str(tr[0].max_batch_delay_ms)),
    *((header, lambda tr, cell=cell: cell(tr[1])) for header, cell in RESULTS[1:6]),
]


def serving_markdown(report: ServingReport) -> str:
    archive = report.archive
    load = report.load_average
    parts = [
        f"TorchServe per model: workers {archive['workers']}, batch_size {archive['batch_size']}, "
        f"max_batch_delay_ms {archive['max_batch_delay_ms']} · {report.duration_s:g} s per cell · "
        f"batches of {report.batch_items} items (throughput counted per item) · load client: "
        f"{report.client} · load average {load.get('start_1min', math.nan):.2f} at the start, "
        f"{load.get('end_1min', math.nan):.2f} at the end, {load.get('cores', 0):g} cores",
        "",
        _table(RESULTS, report.results),
        "",
        "Single predictions:",
        "",
        _table(SINGLE_RATIOS, report.ratios()),
    ]
    if report.batch_ratios():
        parts += [
            "",
            f"Batches of {report.batch_items} items (one category per request):",
            "",
            _table(BATCH_RATIOS, report.batch_ratios()),
        ]
    if report.scaling():
        parts += [
            "",
            "Under more clients (items/s at the higher concurrency / at the lower; p99 at the higher):",
            "",
            _table(SCALING, report.scaling()),
        ]
    errors = [
        f"- {r.layer} @ {r.concurrency}: {example}" for r in report.results for example in r.error_examples
    ]
    if errors:
        parts += ["", "Errors seen:", *errors]
    if report.tuning:
        parts += [
            "",
            "TorchServe settings compared (TorchServe inference API directly):",
            "",
            _table(TUNING, [(t.tuning, r) for t in report.tuning for r in t.results]),
        ]
    return "\n".join(parts) + "\n"


def _cpu_cell(result: LoadResult, server: str) -> str:
    value = result.cpu_ms_per_item.get(server)
    return (
        ""
        if value is None or result.layer.startswith("floor") != (server == "in-process")
        else f"{value:.3f}"
    )
