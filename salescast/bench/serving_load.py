"""`salescast bench serving`: what each serving layer costs, measured side by side in one run.

Single predictions, on the same models and machine: (a) `floor` — the TorchScript model called
in-process through the handler's own model step (`forecast_paths`, one day ahead); (b) `torchserve` —
TorchServe's inference API; (c) `gateway` — POST /api/predict. Batches of `bench.serving_batch_items`
windows of one category, counted per item: (d) `floor_batch` — one in-process forward of the whole
batch; (e) `torchserve_batch` — one `instances` call straight to TorchServe; (f) `gateway_batch` —
POST /api/predict/batch with the same windows. For each concurrency the layers run one after the
other (after `bench.serving_warmup_s` of untimed load on each HTTP layer), so ratios between them
are robust to other load on a shared machine even when absolute numbers are not.

HTTP load comes from wrk (a separate C process) when it is installed, else from the in-process
aiohttp client, which shares the cores with the servers (numbers then include the client's cost).
`tune=True` first compares the TorchServe settings of `bench.serving_tune_grid` (TorchServe direct).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from core.artifacts import latest_version, version_dir
from core.sales_data import load_daily_sales
from core.settings import Settings, TorchServeTuning
from core.slugs import category_slug
from salescast.bench.load import (
    AnswerCheck,
    HttpRequest,
    LoadResult,
    batch_failures,
    http_load,
    ok_if_200,
    thread_load,
)
from salescast.bench.report import markdown_table
from salescast.bench.serving_stack import (
    GatewayLauncher,
    archive_all,
    servable_settings,
    torchserve_process,
    with_fresh_ports,
)
from salescast.bench.wrk import WrkError, find_wrk, wrk_load

logger = logging.getLogger(__name__)

LAYERS = ("floor", "torchserve", "gateway")
BATCH_LAYERS = ("floor_batch", "torchserve_batch", "gateway_batch")
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
    client: str = "python"
    load_average: dict[str, float] = field(default_factory=dict)

    def result(self, layer: str, concurrency: int) -> LoadResult | None:
        return next((r for r in self.results if r.layer == layer and r.concurrency == concurrency), None)

    def _concurrencies(self, layer: str) -> list[int]:
        return sorted({r.concurrency for r in self.results if r.layer == layer})

    def ratios(self) -> list[dict[str, float]]:
        """Single predictions per concurrency: gateway/TorchServe and TorchServe/floor throughput, the
        gateway's added p50 in ms, and the p50 ratios."""
        rows = []
        for concurrency in self._concurrencies("torchserve"):
            floor, served, gateway = (self.result(layer, concurrency) for layer in LAYERS)
            if floor is None or served is None or gateway is None:
                continue
            rows.append(
                {
                    "concurrency": concurrency,
                    "gateway_over_torchserve_rps": _ratio(gateway.items_per_s, served.items_per_s),
                    "gateway_added_p50_ms": gateway.percentile_ms(50) - served.percentile_ms(50),
                    "torchserve_over_floor_rps": _ratio(served.items_per_s, floor.items_per_s),
                    "gateway_over_torchserve_p50": _ratio(
                        gateway.percentile_ms(50), served.percentile_ms(50)
                    ),
                    "torchserve_over_floor_p50": _ratio(served.percentile_ms(50), floor.percentile_ms(50)),
                    "gateway_over_torchserve_cpu": _cpu_ratio(gateway),
                }
            )
        return rows

    def batch_ratios(self) -> list[dict[str, float]]:
        """Batches per concurrency: gateway/TorchServe, TorchServe/floor and gateway/floor items/s."""
        rows = []
        for concurrency in self._concurrencies("torchserve_batch"):
            floor, served, gateway = (self.result(layer, concurrency) for layer in BATCH_LAYERS)
            if floor is None or served is None or gateway is None:
                continue
            rows.append(
                {
                    "concurrency": concurrency,
                    "gateway_over_torchserve_rps": _ratio(gateway.items_per_s, served.items_per_s),
                    "torchserve_over_floor_rps": _ratio(served.items_per_s, floor.items_per_s),
                    "gateway_over_floor_rps": _ratio(gateway.items_per_s, floor.items_per_s),
                    "gateway_over_torchserve_cpu": _cpu_ratio(gateway),
                }
            )
        return rows

    def scaling(self) -> list[dict[str, float]]:
        """Single predictions from one concurrency to the next: does throughput hold, and the p99."""
        rows = []
        levels = self._concurrencies("torchserve")
        for lower, higher in itertools.pairwise(levels):
            row: dict[str, float] = {"from": lower, "to": higher}
            for layer in ("torchserve", "gateway"):
                low, high = self.result(layer, lower), self.result(layer, higher)
                if low is None or high is None:
                    continue
                row[f"{layer}_rps_ratio"] = _ratio(high.items_per_s, low.items_per_s)
                row[f"{layer}_p99_ms"] = high.percentile_ms(99)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "duration_s": self.duration_s,
            "batch_items": self.batch_items,
            "client": self.client,
            "load_average": self.load_average,
            "results": [r.to_dict() for r in self.results],
            "ratios": self.ratios(),
            "batch_ratios": self.batch_ratios(),
            "scaling": self.scaling(),
            "tuning": [t.to_dict() for t in self.tuning],
        }


class CpuMeter:
    """CPU seconds used so far by each server's processes: TorchServe (launcher, JVM, workers) and
    the gateway."""

    def __init__(self, servers: dict[str, Callable[[], list[psutil.Process]]]) -> None:
        self.servers = servers

    def snapshot(self) -> dict[str, float]:
        return {name: sum(map(_cpu_seconds, processes())) for name, processes in self.servers.items()}

    def per_item(self, before: dict[str, float], items: int) -> dict[str, float]:
        """CPU milliseconds per item of each server since `before`."""
        now = self.snapshot()
        return {name: 1000.0 * (now[name] - before[name]) / max(items, 1) for name in now}


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:  # exited meanwhile
        return 0.0
    return float(times.user + times.system)


class HttpDriver:
    """Runs one HTTP layer at one concurrency with wrk when available, else the in-process client."""

    def __init__(self, settings: Settings, duration_s: float, progress: Progress) -> None:
        bench = settings.bench
        self.settings = settings
        self.duration_s = duration_s
        self.wrk = find_wrk(bench.serving_wrk) if bench.serving_client in ("auto", "wrk") else None
        if bench.serving_client == "wrk" and self.wrk is None:
            raise WrkError(
                f"bench.serving_client is wrk but {bench.serving_wrk!r} is not installed "
                "(Debian/Ubuntu: apt-get install wrk)"
            )
        if self.wrk is not None:
            self.name = f"wrk ({bench.serving_client_threads} thread(s), a separate process)"
        elif bench.serving_client == "python":
            self.name = "python (in-process aiohttp, as configured: shares the cores with the servers)"
        else:
            self.name = "python (in-process aiohttp: wrk not found, shares the cores with the servers)"
            progress(
                f"wrk not found ({bench.serving_wrk!r}): HTTP layers use the in-process Python client, "
                "which shares the cores with the servers (install wrk: apt-get install wrk)"
            )

    def measure(
        self,
        layer: str,
        requests: list[HttpRequest],
        concurrency: int,
        check: AnswerCheck = ok_if_200,
        meter: CpuMeter | None = None,
    ) -> LoadResult:
        """`bench.serving_warmup_requests` untimed requests, then `duration_s` of measured load (and
        the servers' CPU per item during it when a `meter` is given)."""
        bench = self.settings.bench
        if bench.serving_warmup_requests:
            asyncio.run(
                http_load(
                    layer,
                    requests,
                    concurrency=1,
                    duration_s=self.duration_s,
                    max_requests=bench.serving_warmup_requests,
                    timeout_s=bench.serving_request_timeout_s,
                    check=check,
                )
            )
        before = meter.snapshot() if meter is not None else {}
        result = self.load(layer, requests, concurrency, self.duration_s, check)
        if meter is not None:
            result.cpu_ms_per_item = meter.per_item(before, result.items + result.errors)
        return result

    def load(
        self,
        layer: str,
        requests: list[HttpRequest],
        concurrency: int,
        duration_s: float,
        check: AnswerCheck = ok_if_200,
    ) -> LoadResult:
        bench = self.settings.bench
        if self.wrk is not None:
            return wrk_load(
                self.wrk,
                layer,
                requests,
                concurrency=concurrency,
                duration_s=duration_s,
                timeout_s=bench.serving_request_timeout_s,
                threads=bench.serving_client_threads,
                count_failed_items=check is batch_failures,
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
    batch_items = stack.bench.serving_batch_items
    # The bench's batches must fit the gateway's batch limit.
    stack = stack.with_overrides(
        {"gateway": {"max_batch_items": max(stack.gateway.max_batch_items, batch_items)}}
    )
    windows = _recent_windows(stack)
    driver = HttpDriver(stack, duration_s, progress)
    progress(f"load client: {driver.name}")
    tuning = _tune(stack, work_dir, windows, driver, concurrency, progress) if tune else []
    archives = archive_all(stack)
    report = ServingReport(
        stack.archive.model_dump(), duration_s, batch_items, [], tuning, client=driver.name
    )
    report.load_average["start_1min"] = os.getloadavg()[0]
    progress(f"starting TorchServe ({_describe(stack)}) and the gateway on 127.0.0.1")
    with torchserve_process(stack, archives) as torchserve, GatewayLauncher(stack, work_dir) as gateway:
        floors = {"floor": (_floor_call(stack, windows, 1), 1)}
        floors["floor_batch"] = (_floor_call(stack, windows, batch_items), batch_items)
        http: dict[str, tuple[list[HttpRequest], AnswerCheck]] = {
            "torchserve": (_torchserve_requests(torchserve.inference_url, windows), ok_if_200),
            "gateway": (_gateway_requests(gateway.url, windows), ok_if_200),
            "torchserve_batch": (
                _torchserve_batches(torchserve.inference_url, windows, batch_items),
                ok_if_200,
            ),
            "gateway_batch": (_gateway_batches(gateway.url, windows, batch_items), batch_failures),
        }
        meter = CpuMeter({"torchserve": torchserve.process_tree, "gateway": gateway.process_tree})
        bench = stack.bench
        if bench.serving_warmup_s > 0:
            # TorchServe's JVM compiles its hot paths during the first seconds of load: unwarmed, the
            # first layer measured pays for that and every ratio to it is flattered.
            progress(f"warming up: {bench.serving_warmup_s:g} s of load on each HTTP layer")
            for layer, (requests, check) in http.items():
                driver.load(layer, requests, 1 if "batch" in layer else 16, bench.serving_warmup_s, check)
        plan = [(clients, layer) for clients in concurrency for layer in LAYERS]
        plan += [(clients, layer) for clients in bench.serving_batch_concurrency for layer in BATCH_LAYERS]
        for clients, layer in plan:
            if layer in floors:
                call, items = floors[layer]
                result = _measure_floor(layer, call, stack, clients, duration_s, items)
            else:
                requests, check = http[layer]
                result = driver.measure(layer, requests, clients, check, meter)
            progress(_line(result))
            report.results.append(result)
    report.load_average["end_1min"] = os.getloadavg()[0]
    report.load_average["cores"] = float(os.cpu_count() or 0)
    return report


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
        markdown_table(
            [
                "layer",
                "concurrency",
                "items/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "requests",
                "CPU ms/item: TorchServe",
                "gateway",
                "in-process",
            ],
            [
                [
                    r.layer,
                    str(r.concurrency),
                    f"{r.items_per_s:.0f}",
                    f"{r.percentile_ms(50):.1f}",
                    f"{r.percentile_ms(99):.1f}",
                    str(r.errors),
                    str(r.requests),
                    _cpu_cell(r, "torchserve"),
                    _cpu_cell(r, "gateway") if r.layer.startswith("gateway") else "",
                    _cpu_cell(r, "in-process"),
                ]
                for r in report.results
            ],
        ),
        "",
        "Single predictions:",
        "",
        markdown_table(
            [
                "concurrency",
                "gateway/TorchServe items/s",
                "gateway added p50 ms",
                "TorchServe/floor items/s",
                "gateway/TorchServe p50",
                "TorchServe/floor p50",
                "gateway/TorchServe CPU",
            ],
            [
                [
                    str(row["concurrency"]),
                    f"{row['gateway_over_torchserve_rps']:.3f}",
                    f"{row['gateway_added_p50_ms']:+.2f}",
                    f"{row['torchserve_over_floor_rps']:.3f}",
                    f"{row['gateway_over_torchserve_p50']:.3f}",
                    f"{row['torchserve_over_floor_p50']:.1f}",
                    f"{row['gateway_over_torchserve_cpu']:.3f}",
                ]
                for row in report.ratios()
            ],
        ),
    ]
    if report.batch_ratios():
        parts += [
            "",
            f"Batches of {report.batch_items} items (one category per request):",
            "",
            markdown_table(
                [
                    "concurrency",
                    "gateway/TorchServe items/s",
                    "TorchServe/floor items/s",
                    "gateway/floor items/s",
                    "gateway/TorchServe CPU",
                ],
                [
                    [
                        str(row["concurrency"]),
                        f"{row['gateway_over_torchserve_rps']:.3f}",
                        f"{row['torchserve_over_floor_rps']:.3f}",
                        f"{row['gateway_over_floor_rps']:.3f}",
                        f"{row['gateway_over_torchserve_cpu']:.3f}",
                    ]
                    for row in report.batch_ratios()
                ],
            ),
        ]
    if report.scaling():
        parts += [
            "",
            "Under more clients (items/s at the higher concurrency / at the lower; p99 at the higher):",
            "",
            markdown_table(
                [
                    "concurrency",
                    "TorchServe items/s",
                    "TorchServe p99 ms",
                    "gateway items/s",
                    "gateway p99 ms",
                ],
                [
                    [
                        f"{row['from']:g} → {row['to']:g}",
                        f"{row.get('torchserve_rps_ratio', math.nan):.3f}",
                        f"{row.get('torchserve_p99_ms', math.nan):.1f}",
                        f"{row.get('gateway_rps_ratio', math.nan):.3f}",
                        f"{row.get('gateway_p99_ms', math.nan):.1f}",
                    ]
                    for row in report.scaling()
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


def _floor_call(settings: Settings, windows: dict[str, list[float]], rows: int) -> Callable[[int], None]:
    """One in-process forecast of `rows` copies of a category's window per call, categories in turn:
    the handler's own model step (normalize if the version wants it → forward → back to sales)."""
    import torch

    from handlers.forecast_steps import forecast_paths, load_model, load_norm_stats

    torch.set_num_threads(1)  # like one TorchServe worker per model on a shared 2-core machine
    models = []
    for category, window in windows.items():
        folder = version_dir(settings, category, latest_version(settings, category) or "")
        models.append(
            (load_model(folder / "model.pt"), load_norm_stats(folder / "norm_stats.json"), [window] * rows)
        )

    def call(index: int) -> None:
        model, stats, batch = models[index % len(models)]
        paths = forecast_paths(model, batch, stats, 1)
        if not math.isfinite(float(paths[0, 0])):
            raise ValueError("non-finite prediction")

    return call


def _measure_floor(
    layer: str,
    call: Callable[[int], None],
    settings: Settings,
    concurrency: int,
    duration_s: float,
    items_per_call: int,
) -> LoadResult:
    bench = settings.bench
    for index in range(bench.serving_warmup_requests):
        call(index)
    started = time.process_time()
    result = thread_load(
        layer,
        call,
        concurrency=concurrency,
        duration_s=duration_s,
        max_requests=bench.serving_max_requests,
        items_per_call=items_per_call,
    )
    used = time.process_time() - started
    result.cpu_ms_per_item = {"in-process": 1000.0 * used / max(result.items + result.errors, 1)}
    return result


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _torchserve_requests(base_url: str, windows: dict[str, list[float]]) -> list[HttpRequest]:
    return [
        HttpRequest(f"{base_url}/predictions/{category_slug(category)}", _body({"sales": window}))
        for category, window in windows.items()
    ]


def _gateway_requests(base_url: str, windows: dict[str, list[float]]) -> list[HttpRequest]:
    return [
        HttpRequest(f"{base_url}/api/predict", _body({"category": category, "sales": window}))
        for category, window in windows.items()
    ]


def _torchserve_batches(base_url: str, windows: dict[str, list[float]], items: int) -> list[HttpRequest]:
    """One `instances` call per category holding `items` copies of its window."""
    return [
        HttpRequest(
            f"{base_url}/predictions/{category_slug(category)}",
            _body({"instances": [window] * items}),
            items=items,
        )
        for category, window in windows.items()
    ]


def _gateway_batches(base_url: str, windows: dict[str, list[float]], items: int) -> list[HttpRequest]:
    """The same windows as `_torchserve_batches`, as batch items of the gateway."""
    return [
        HttpRequest(
            f"{base_url}/api/predict/batch",
            _body({"items": [{"category": category, "sales": window}] * items}),
            items=items,
        )
        for category, window in windows.items()
    ]


def _tune(
    stack: Settings,
    work_dir: Path,
    windows: dict[str, list[float]],
    driver: HttpDriver,
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
            if settings.bench.serving_warmup_s > 0:
                driver.load("torchserve", requests, 16, settings.bench.serving_warmup_s)
            measured = [driver.measure("torchserve", requests, clients) for clients in concurrency]
        for result in measured:
            progress("  " + _line(result))
        results.append(TuningResult(tuning, measured))
    return results


def _describe(settings: Settings) -> str:
    a = settings.archive
    return f"workers={a.workers} batch_size={a.batch_size} max_batch_delay_ms={a.max_batch_delay_ms}"


def _line(result: LoadResult) -> str:
    return (
        f"{result.layer:<16} c={result.concurrency:<3} {result.items_per_s:8.0f} items/s  p50 "
        f"{result.percentile_ms(50):7.1f} ms  p99 {result.percentile_ms(99):7.1f} ms  errors {result.errors}"
    )


def _cpu_ratio(result: LoadResult) -> float:
    """The gateway's CPU per item over TorchServe's, in the same gateway measurement."""
    cpu = result.cpu_ms_per_item
    return _ratio(cpu.get("gateway", math.nan), cpu.get("torchserve", math.nan))


def _cpu_cell(result: LoadResult, server: str) -> str:
    value = result.cpu_ms_per_item.get(server)
    return (
        ""
        if value is None or result.layer.startswith("floor") != (server == "in-process")
        else f"{value:.3f}"
    )


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 and math.isfinite(denominator) else math.nan
