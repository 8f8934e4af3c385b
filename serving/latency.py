"""Latency of one prediction: through TorchServe's inference API vs an in-process TorchScript call.

Both paths answer the same window with the same normalization (the handler's own functions), one
request at a time (concurrency 1), measured in the same run. Reusable by `salescast bench`:

    python -m serving.latency --category Beauty --requests 500            # a TorchServe already running
    python -m serving.latency --category Beauty --requests 500 --start    # start one just for this
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import torch

from core.artifacts import MODEL_FILE, NORM_STATS_FILE, version_dir
from core.errors import SalescastError
from core.settings import Settings, load_settings
from core.slugs import category_slug
from handlers.forecast_handler import denormalize, forward, load_model, load_norm_stats, normalize


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds over `n` timed calls (after warm-up)."""

    n: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencySummary:
        ms = sorted(value * 1000.0 for value in seconds)
        return cls(
            n=len(ms),
            median_ms=round(statistics.median(ms), 4),
            p90_ms=round(ms[min(len(ms) - 1, int(0.9 * len(ms)))], 4),
            p99_ms=round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 4),
            mean_ms=round(statistics.fmean(ms), 4),
        )


@dataclass(frozen=True)
class LatencyComparison:
    category: str
    version: str
    torchserve: LatencySummary
    in_process: LatencySummary

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_calls(call: Callable[[], object], requests: int, warmup: int) -> list[float]:
    """Seconds per call of `call`, sequentially, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    durations = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        durations.append(time.perf_counter() - start)
    return durations


def in_process_predictor(model_dir: Path, window: Sequence[float]) -> Callable[[], float]:
    """One prediction the way the handler computes it, without TorchServe (1 intra-op thread)."""
    torch.set_num_threads(1)
    model = load_model(model_dir / MODEL_FILE)
    stats = load_norm_stats(model_dir / NORM_STATS_FILE)
    mean, std = float(stats["mean"]), float(stats["std"])

    def predict() -> float:
        return denormalize(forward(model, normalize([list(window)], mean, std)), mean, std)[0]

    return predict


def torchserve_predictor(
    client: httpx.Client, inference_url: str, model_name: str, window: Sequence[float]
) -> Callable[[], float]:
    """One prediction through `POST /predictions/<model>` on a kept-alive connection."""
    url = f"{inference_url.rstrip('/')}/predictions/{model_name}"
    body = {"sales": list(window)}

    def predict() -> float:
        response = client.post(url, json=body)
        if response.status_code != 200:
            raise SalescastError(f"TorchServe answered {response.status_code}: {response.text.strip()}")
        return float(response.json()["prediction"])

    return predict


def compare_latency(
    settings: Settings,
    category: str,
    version: str,
    *,
    inference_url: str | None = None,
    requests: int = 500,
    warmup: int = 50,
) -> LatencyComparison:
    """Median/p90/p99 of one prediction through TorchServe and in process, same window, same run."""
    model_dir = version_dir(settings, category, version)
    window_size = int(load_norm_stats(model_dir / NORM_STATS_FILE)["window_size"])
    window = [100.0 + 3.0 * day for day in range(window_size)]
    local = in_process_predictor(model_dir, window)
    url = inference_url or settings.torchserve.inference_base_url
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        remote = torchserve_predictor(client, url, category_slug(category), window)
        if abs(remote() - local()) > 1e-4:
            raise SalescastError(f"TorchServe does not serve {category} {version}: answers differ")
        served = time_calls(remote, requests, warmup)
    direct = time_calls(local, requests, warmup)
    return LatencyComparison(category, version, LatencySummary.of(served), LatencySummary.of(direct))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="configuration file (default: configs/default.yaml)")
    parser.add_argument("--category", required=True)
    parser.add_argument("--version", help="training version (default: the newest archive's)")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--start", action="store_true", help="start a TorchServe for the measurement")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    from serving.archive import newest_archives
    from serving.torchserve_process import TorchServeProcess

    archive = newest_archives(settings).get(category_slug(args.category))
    if archive is None:
        print(f"no archive of {args.category!r} in {settings.paths.model_store}", file=sys.stderr)
        return 2
    version = args.version or archive.version
    server = TorchServeProcess(settings, [archive]).start() if args.start else None
    try:
        result = compare_latency(settings, args.category, version, requests=args.requests, warmup=args.warmup)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(result.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
