"""`salescast bench scale`: what hundreds of categories cost on one machine, per category count.

For each count C the bench writes the generated `retailer` data (`core.retailer_sample`: the fixed
mix of weekly, intermittent, newly launched and huge categories) into `<work>/c<C>/`, then, with
every path and port of that folder (nothing of a running stack is touched):

1. runs `salescast train --all` as a child process: wall and CPU seconds (the child's whole tree,
   pool workers included) and the peak RSS of the tree; the archives it builds are what is served;
2. runs `salescast serve torchserve` as a child process: seconds until it is ready
   (`scale_serving`), private memory of TorchServe's frontend JVM and model workers;
3. starts the gateway, times the first `GET /api/models`, asks every served category once (the
   cold set) and one category many times (hot), times `GET /api/models` again;
4. starts the UI and times headless Chromium loading it until the category picker is filled.

Run it on a quiet machine: every number is a wall-clock time or a peak on shared cores.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import yaml

from core import supervisor
from core.contracts.files import ContractError
from core.contracts.job_result import read_results
from core.errors import SalescastError
from core.net import http_url
from core.retailer_sample import (
    RETAILER_YEARS,
    category_name,
    kind_counts,
    retailer_kinds,
    write_retailer_sample,
)
from core.sales_data import load_daily_sales
from core.settings import Settings
from salescast.bench.gateway_process import GatewayStartError, isolated_env
from salescast.bench.isolation import isolated_settings
from salescast.bench.scale_measure import children_cpu_s, torchserve_memory, watch_peak_rss
from salescast.bench.scale_report import ScaleReport, ServingCost, SizeResult, TrainingCost
from salescast.bench.scale_serving import (
    ScaleServingError,
    list_models,
    measure_during_training,
    measure_predictions,
    start_torchserve,
    time_api_models,
    torchserve_startup_timeout_s,
)
from salescast.bench.scale_ui import measure_page_load
from salescast.bench.serving_stack import BENCH_EXPERIMENT, GatewayLauncher
from salescast.local_stack import OFFLINE_ENV

Progress = Callable[[str], None]
DEFAULT_SIZES = (3, 30, 300)  # category counts of issue 22's table
STARTUP_S_PER_CATEGORY = 10.0  # TorchServe start-up allowance per model (registration is ~1.5 s each)
TRAINING_JOB_CATEGORIES = 3  # categories of the job trained while the hot category is measured
_ERROR_CHARS = 200


class ScaleBenchError(SalescastError):
    """A step of the scale bench failed outright (no category trained, a server did not start)."""


def run_scale_bench(
    settings: Settings,
    *,
    sizes: Sequence[int],
    work_dir: Path,
    progress: Progress = print,
    serve: bool = True,
) -> ScaleReport:
    """Measure every count in `sizes` (in order) and return the report; without `serve`, training
    only (what the 20-minute budget for 300 categories is about, without the hour serving takes)."""
    report = ScaleReport(settings.model.model_dump(), settings.training.max_epochs)
    for count in sizes:
        progress(f"{count} categories: generating the retailer data")
        report.sizes.append(measure_size(settings, count, work_dir / f"c{count}", progress, serve=serve))
    return report


def measure_size(
    settings: Settings, count: int, folder: Path, progress: Progress = print, *, serve: bool = True
) -> SizeResult:
    """Train, serve (unless not `serve`) and ask `count` retailer categories in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = settings.sample
    data = write_retailer_sample(
        folder / f"retailer-{count}.csv", sample.seed, sample.start, RETAILER_YEARS, count
    )
    child = _child_settings(settings, folder, data, count)
    names = [category_name(kind, i) for i, kind in enumerate(retailer_kinds(count), start=1)]
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(child.model_dump(mode="json")), encoding="utf-8")
    env = {**isolated_env(), **OFFLINE_ENV}
    env.pop("MLFLOW_TRACKING_URI", None)

    progress(f"{count} categories: salescast train --all")
    training = measure_training(child, config, folder / "train", env)
    progress(
        f"{count} categories: trained {training.trained} in {training.wall_s:.0f} s wall, "
        f"{training.cpu_s:.0f} s CPU, peak {training.peak_rss_mb:.0f} MB"
    )
    if training.trained == 0:
        raise ScaleBenchError(f"no category trained: {training.failed}")

    serving, error = None, None
    try:
        if serve:
            serving = measure_serving(child, config, folder, env, names, progress)
    except (ScaleServingError, GatewayStartError, httpx.HTTPError) as exc:
        error = f"{type(exc).__name__}: {str(exc)[: _ERROR_CHARS * 2]}"
        progress(f"{count} categories: serving failed: {error}")
    return SizeResult(
        categories=count,
        kinds={str(kind): n for kind, n in kind_counts(retailer_kinds(count)).items()},
        data_rows=_rows(data),
        training=training,
        serving=serving,
        serving_error=error,
        serving_measured=serve,
    )


def measure_serving(
    settings: Settings, config: Path, folder: Path, env: dict[str, str], order: list[str], progress: Progress
) -> ServingCost:
    """`serve torchserve` until ready, the gateway in front of it, predictions, then the UI."""
    count = len(order)
    progress(f"{count} categories: salescast serve torchserve")
    timeout_s = settings.torchserve.startup_timeout_s + settings.torchserve.stop_timeout_s
    torchserve, ready_s = start_torchserve(config, folder / "torchserve.log", env, timeout_s)
    try:
        memory_at_ready = torchserve_memory(torchserve.tree())
        progress(f"{count} categories: ready after {ready_s:.1f} s, {memory_at_ready.torchserve_mb:.0f} MB")
        sales = {name: series.to_numpy() for name, series in load_daily_sales(settings.data).items()}
        with (
            GatewayLauncher(settings, folder) as gateway,
            httpx.Client(timeout=settings.ui.request_timeout_s) as client,
        ):
            models, first_s = list_models(client, gateway.url)
            predictions = measure_predictions(client, gateway.url, models, sales, order)
            memory = torchserve_memory(torchserve.tree())
            hot = predictions.hot_category
            window = next(int(m["window_size"]) for m in models if m["category"] == hot)
            progress(
                f"{count} categories: predictions while a job trains {TRAINING_JOB_CATEGORIES} categories"
            )
            during_training, job_s = measure_during_training(
                client,
                gateway.url,
                hot,
                sales[hot][-window:],
                order[:TRAINING_JOB_CATEGORIES],
                settings.gateway.job_timeout_s,
            )
            api_models = time_api_models(client, gateway.url)
            progress(f"{count} categories: {predictions.answered}/{predictions.asked} answered; UI page load")
            page_load = measure_page_load(settings, config, folder / "ui.log", env)
    finally:
        torchserve.stop(settings.torchserve.stop_timeout_s)
    return ServingCost(
        ready_s=round(ready_s, 2),
        memory_at_ready=memory_at_ready,
        memory=memory,
        predictions=predictions,
        hot_during_training=during_training,
        training_job_s=round(job_s, 1),
        api_models_first_s=round(first_s, 4),
        api_models=api_models,
        page_load=page_load,
    )


def measure_training(settings: Settings, config: Path, folder: Path, env: dict[str, str]) -> TrainingCost:
    """`salescast train --all` (archives included, as a user runs it) in a child process."""
    folder.mkdir(parents=True, exist_ok=True)
    result_json = folder / "result.json"
    result_json.unlink(missing_ok=True)
    command = [sys.executable, "-m", "salescast", "--config", str(config), "train", "--all"]
    command += ["--experiment", BENCH_EXPERIMENT, "--result-json", str(result_json)]
    cpu_before = children_cpu_s()
    started = time.monotonic()
    process = supervisor.start_process("train", command, folder / "train.log", env)
    try:
        peak = watch_peak_rss(process, settings.bench.memory_poll_s, math.inf)
    finally:
        process.stop(settings.up.stop_timeout_s)  # reaps it: its CPU time counts from here on
    wall = time.monotonic() - started
    cpu = children_cpu_s() - cpu_before
    try:
        results = read_results(result_json)
    except ContractError:
        raise ScaleBenchError(
            f"`salescast train --all` exited with {process.exited()}: {process.tail()}"
        ) from None
    failed = {r.category: (r.error or r.status)[:_ERROR_CHARS] for r in results if r.status != "succeeded"}
    return TrainingCost(
        wall_s=round(wall, 2),
        cpu_s=round(cpu, 2),
        peak_rss_mb=round(peak / 2**20, 1),
        training_s=round(sum(r.seconds for r in results), 2),
        trained=len(results) - len(failed),
        failed=failed,
    )


def _child_settings(settings: Settings, folder: Path, data: Path, count: int) -> Settings:
    """Every path under `folder`, every port free; the UI pointed at this folder's gateway."""
    child = isolated_settings(
        settings,
        folder,
        data={"path": str(data.resolve()), "categories": "auto"},
        paths={"artifacts": str(folder.resolve() / "artifacts")},
        torchserve={
            "startup_timeout_s": torchserve_startup_timeout_s(settings, count, STARTUP_S_PER_CATEGORY)
        },
    )
    gateway_url = http_url(child.gateway.host, child.gateway.port)
    return child.with_overrides({"ui": {"gateway_url": gateway_url}})


def _rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1
