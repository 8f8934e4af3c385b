"""`salescast bench serving`: what each serving layer costs, measured side by side in one run.

Layers, on the same models and machine: (a) `floor` — the TorchScript model called in-process with
the handler's own normalize → forward → de-normalize functions; (b) `torchserve` — TorchServe's
inference API; (c) `gateway` — POST /api/predict; (d) `gateway_batch` — POST /api/predict/batch,
counted per item. For each concurrency the layers run one after the other, so ratios between them
are robust to other load on a shared machine even when absolute numbers are not. The load
generator runs on the same cores as the servers (a real but conservative setup).
`tune=True` first compares the TorchServe settings of `bench.serving_tune_grid` (TorchServe direct).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.artifacts import latest_version, version_dir
from core.sales_data import load_daily_sales
from core.settings import Settings, TorchServeTuning
from core.slugs import category_slug
from salescast.bench.load import AnswerCheck, HttpRequest, LoadResult, http_load, ok_if_200, thread_load
from salescast.bench.report import markdown_table
from salescast.bench.serving_stack import (
    GatewayLauncher,
    archive_all,
    servable_settings,
    torchserve_process,
    with_fresh_ports,
)

logger = logging.getLogger(__name__)

LAYERS = ("floor", "torchserve", "gateway", "gateway_batch")
Progress = Callable[[str], None]


@dataclass
class TuningResult:
    tuning: TorchServeTuning
    results: list[LoadResult]

    def to_dict(self) -> dict[str, Any]:
        return {**self.tuning.model_dump(), "results": [r.to_dict() for r in self.results]}


@dataclass
class ServingReport:
    archive: dict[str, Any]
    duration_s: float
    batch_items: int
    results: list[LoadResult]
    tuning: list[TuningResult] = field(default_factory=list)

    def result(self, layer: str, concurrency: int) -> LoadResult | None:
        return next((r for r in self.results if r.layer == layer and r.concurrency == concurrency), None)

    def ratios(self) -> list[dict[str, float]]:
        """Per concurrency: gateway/TorchServe and TorchServe/floor, for throughput and p50 latency."""
        rows = []
        for concurrency in sorted({r.concurrency for r in self.results}):
            floor, served, gateway = (self.result(layer, concurrency) for layer in LAYERS[:3])
            if floor is None or served is None or gateway is None:
                continue
            rows.append(
                {
                    "concurrency": concurrency,
                    "gateway_over_torchserve_rps": _ratio(gateway.items_per_s, served.items_per_s),
                    "torchserve_over_floor_rps": _ratio(served.items_per_s, floor.items_per_s),
                    "gateway_over_torchserve_p50": _ratio(
                        gateway.percentile_ms(50), served.percentile_ms(50)
                    ),
                    "torchserve_over_floor_p50": _ratio(served.percentile_ms(50), floor.percentile_ms(50)),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "duration_s": self.duration_s,
            "batch_items": self.batch_items,
            "results": [r.to_dict() for r in self.results],
            "ratios": self.ratios(),
            "tuning": [t.to_dict() for t in self.tuning],
        }


def run_serving_bench(
    settings: Settings,
    *,
    duration_s: float,
    concurrency: Sequence[int],
    work_dir: Path,
    tune: bool = False,
    progress: Progress = print,
) -> ServingReport:
    """Start an isolated TorchServe + gateway on loopback, measure every layer, stop them."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per request would load the client
    stack = servable_settings(settings, work_dir, progress)
    windows = _recent_windows(stack)
    tuning = _tune(stack, work_dir, windows, duration_s, concurrency, progress) if tune else []
    archives = archive_all(stack)
    report = ServingReport(
        stack.archive.model_dump(), duration_s, stack.bench.serving_batch_items, [], tuning
    )
    progress(f"starting TorchServe ({_describe(stack)}) and the gateway on 127.0.0.1")
    with torchserve_process(stack, archives) as torchserve, GatewayLauncher(stack, work_dir) as gateway:
        floor = _floor_call(stack, windows)
        layers: dict[str, Callable[[int], LoadResult]] = {
            "floor": lambda c: _measure_floor(floor, stack, c, duration_s),
            "torchserve": lambda c: _measure_http(
                "torchserve", _torchserve_requests(torchserve.inference_url, windows), stack, c, duration_s
            ),
            "gateway": lambda c: _measure_http(
                "gateway", _gateway_requests(gateway.url, windows), stack, c, duration_s
            ),
            "gateway_batch": lambda c: _measure_http(
                "gateway_batch",
                _batch_requests(gateway.url, windows, stack.bench.serving_batch_items),
                stack,
                c,
                duration_s,
                check=_batch_failures,
            ),
        }
        for clients in concurrency:
            for layer in LAYERS:
                result = layers[layer](clients)
                progress(_line(result))
                report.results.append(result)
    return report


def serving_markdown(report: ServingReport) -> str:
    archive = report.archive
    parts = [
        f"TorchServe per model: workers {archive['workers']}, batch_size {archive['batch_size']}, "
        f"max_batch_delay_ms {archive['max_batch_delay_ms']} · {report.duration_s:g} s per cell · "
        f"batch requests of {report.batch_items} items (throughput counted per item)",
        "",
        markdown_table(
            ["layer", "concurrency", "items/s", "p50 ms", "p99 ms", "errors", "requests"],
            [
                [
                    r.layer,
                    str(r.concurrency),
                    f"{r.items_per_s:.0f}",
                    f"{r.percentile_ms(50):.1f}",
                    f"{r.percentile_ms(99):.1f}",
                    str(r.errors),
                    str(r.requests),
                ]
                for r in report.results
            ],
        ),
        "",
        markdown_table(
            [
                "concurrency",
                "gateway/TorchServe items/s",
                "TorchServe/floor items/s",
                "gateway/TorchServe p50",
                "TorchServe/floor p50",
            ],
            [
                [str(row["concurrency"]), *(f"{row[key]:.3f}" for key in list(row)[1:])]
                for row in report.ratios()
            ],
        ),
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
            markdown_table(
                [
                    "workers",
                    "batch_size",
                    "max_batch_delay_ms",
                    "concurrency",
                    "items/s",
                    "p50 ms",
                    "p99 ms",
                    "errors",
                ],
                [
                    [
                        str(t.tuning.workers),
                        str(t.tuning.batch_size),
                        str(t.tuning.max_batch_delay_ms),
                        str(r.concurrency),
                        f"{r.items_per_s:.0f}",
                        f"{r.percentile_ms(50):.1f}",
                        f"{r.percentile_ms(99):.1f}",
                        str(r.errors),
                    ]
                    for t in report.tuning
                    for r in t.results
                ],
            ),
        ]
    return "\n".join(parts) + "\n"


# ---- layers ----------------------------------------------------------------------------------


def _recent_windows(settings: Settings) -> dict[str, list[float]]:
    """The last N days of every served category: realistic request bodies."""
    sales = load_daily_sales(settings.data)
    size = settings.window.size
    return {category: [float(v) for v in series.to_numpy()[-size:]] for category, series in sales.items()}


def _floor_call(settings: Settings, windows: dict[str, list[float]]) -> Callable[[int], None]:
    import torch

    from handlers.forecast_handler import denormalize, forward, load_model, load_norm_stats, normalize

    torch.set_num_threads(1)  # like one TorchServe worker per model on a shared 2-core machine
    models = []
    for category, window in windows.items():
        folder = version_dir(settings, category, latest_version(settings, category) or "")
        stats = load_norm_stats(folder / "norm_stats.json")
        models.append((load_model(folder / "model.pt"), float(stats["mean"]), float(stats["std"]), window))

    def call(index: int) -> None:
        model, mean, std, window = models[index % len(models)]
        values = denormalize(forward(model, normalize([window], mean, std)), mean, std)
        if not math.isfinite(values[0]):
            raise ValueError("non-finite prediction")

    return call


def _measure_floor(
    call: Callable[[int], None], settings: Settings, concurrency: int, duration_s: float
) -> LoadResult:
    bench = settings.bench
    for index in range(bench.serving_warmup_requests):
        call(index)
    return thread_load(
        "floor", call, concurrency=concurrency, duration_s=duration_s, max_requests=bench.serving_max_requests
    )


def _torchserve_requests(base_url: str, windows: dict[str, list[float]]) -> list[HttpRequest]:
    return [
        HttpRequest(
            f"{base_url}/predictions/{category_slug(category)}", json.dumps({"sales": window}).encode()
        )
        for category, window in windows.items()
    ]


def _gateway_requests(base_url: str, windows: dict[str, list[float]]) -> list[HttpRequest]:
    return [
        HttpRequest(f"{base_url}/api/predict", json.dumps({"category": category, "sales": window}).encode())
        for category, window in windows.items()
    ]


def _batch_requests(base_url: str, windows: dict[str, list[float]], items: int) -> list[HttpRequest]:
    pairs = list(windows.items())
    body = {
        "items": [
            {"category": pairs[i % len(pairs)][0], "sales": pairs[i % len(pairs)][1]} for i in range(items)
        ]
    }
    return [HttpRequest(f"{base_url}/api/predict/batch", json.dumps(body).encode(), items=items)]


def _batch_failures(response: httpx.Response) -> int:
    return int(response.json()["failed"])


def _measure_http(
    layer: str,
    requests: list[HttpRequest],
    settings: Settings,
    concurrency: int,
    duration_s: float,
    check: AnswerCheck = ok_if_200,
) -> LoadResult:
    bench = settings.bench
    if bench.serving_warmup_requests:
        asyncio.run(
            http_load(
                layer,
                requests,
                concurrency=1,
                duration_s=duration_s,
                max_requests=bench.serving_warmup_requests,
                timeout_s=bench.serving_request_timeout_s,
                check=check,
            )
        )
    return asyncio.run(
        http_load(
            layer,
            requests,
            concurrency=concurrency,
            duration_s=duration_s,
            max_requests=bench.serving_max_requests,
            timeout_s=bench.serving_request_timeout_s,
            check=check,
        )
    )


def _tune(
    stack: Settings,
    work_dir: Path,
    windows: dict[str, list[float]],
    duration_s: float,
    concurrency: Sequence[int],
    progress: Progress,
) -> list[TuningResult]:
    results = []
    for number, tuning in enumerate(stack.bench.serving_tune_grid):
        settings = with_fresh_ports(stack).with_overrides(
            {
                "archive": tuning.model_dump(),
                "paths": {"model_store": str(work_dir.resolve() / f"model_store-tune-{number}")},
            }
        )
        progress(f"tuning: {_describe(settings)}")
        with torchserve_process(settings, archive_all(settings)) as torchserve:
            requests = _torchserve_requests(torchserve.inference_url, windows)
            measured = [
                _measure_http("torchserve", requests, settings, clients, duration_s)
                for clients in concurrency
            ]
        for result in measured:
            progress("  " + _line(result))
        results.append(TuningResult(tuning, measured))
    return results


def _describe(settings: Settings) -> str:
    a = settings.archive
    return f"workers={a.workers} batch_size={a.batch_size} max_batch_delay_ms={a.max_batch_delay_ms}"


def _line(result: LoadResult) -> str:
    return (
        f"{result.layer:<14} c={result.concurrency:<3} {result.items_per_s:8.0f} items/s  p50 "
        f"{result.percentile_ms(50):7.1f} ms  p99 {result.percentile_ms(99):7.1f} ms  errors {result.errors}"
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 and math.isfinite(denominator) else math.nan
