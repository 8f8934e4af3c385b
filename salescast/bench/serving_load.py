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

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.artifacts import latest_version, version_dir
from core.sales_data import load_daily_sales
from core.settings import Settings
from core.slugs import category_slug
from salescast.bench.load import (
    AnswerCheck,
    HttpRequest,
    LoadResult,
    batch_failures,
    ok_if_200,
    thread_load,
)
from salescast.bench.serving_driver import CpuMeter, HttpDriver, Progress
from salescast.bench.serving_report import BATCH_LAYERS, LAYERS, ServingReport, TuningResult
from salescast.bench.serving_stack import (
    GatewayLauncher,
    archive_all,
    servable_settings,
    torchserve_process,
    with_fresh_ports,
)

logger = logging.getLogger(__name__)


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
                result = _measure_floor(layer, floors[layer], stack, clients, duration_s)
            else:
                requests, check = http[layer]
                result = driver.measure(layer, requests, clients, check, meter)
            progress(_line(result))
            report.results.append(result)
    report.load_average["end_1min"] = os.getloadavg()[0]
    report.load_average["cores"] = float(os.cpu_count() or 0)
    return report


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
    floor: tuple[Callable[[int], None], int],
    settings: Settings,
    concurrency: int,
    duration_s: float,
) -> LoadResult:
    """`floor` is the in-process call and the items one call forecasts."""
    call, items_per_call = floor
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
