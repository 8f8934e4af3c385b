"""What the forecast cache buys: `GET /api/forecast/{category}` missed vs hit, side by side, over many
categories, with the in-process cache and with the Redis one (`redis.url`).

`salescast bench forecast-cache --categories 30 --hits 5` (JSON and Markdown into `bench.out_dir`)

The generated `retailer` data (`core.retailer_sample`) with `--categories` categories is trained
briefly into the work folder (the configured model, `SERVING_ONLY_EPOCHS` epochs: a forecast costs the same
however long its model trained), archived and served by a private TorchServe. For each cache a
gateway is started; every category is asked once per horizon (a miss: TorchServe computes it) and
then `--hits` times more (hits), after one uncounted ask per category (TorchServe's first call of a
model is slower than the rest). Latencies are client-side wall times over HTTP on loopback; the
machine's load average is printed beside them. Nothing of a running stack is touched.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from core.retailer_sample import write_retailer_sample
from core.settings import Settings
from salescast.bench.isolation import free_port
from salescast.bench.redis_server import start_redis
from salescast.bench.serving_stack import GatewayLauncher, archive_all, servable_settings, torchserve_process

HORIZONS = (1, 7, 28)
WARMUP_HORIZON = 2  # asked once per category first, not counted: TorchServe's first call of a model is slower
REQUEST_TIMEOUT_S = 60.0


def measure(url: str, categories: Sequence[str], hits: int) -> dict[str, Any]:
    """Per horizon: every category's miss and `hits` hits, in ms."""
    results: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        for category in categories:
            client.get(f"/api/forecast/{quote(category, safe='')}", params={"horizon": WARMUP_HORIZON})
        for horizon in HORIZONS:
            miss_ms: list[float] = []
            hit_ms: list[float] = []
            for category in categories:
                for attempt in range(1 + hits):
                    started = time.perf_counter()
                    response = client.get(
                        f"/api/forecast/{quote(category, safe='')}", params={"horizon": horizon}
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    expected = "miss" if attempt == 0 else "hit"
                    if response.headers.get("X-Cache") != expected:
                        raise RuntimeError(
                            f"{category} h={horizon}: expected a {expected}, got {response.headers}"
                        )
                    (miss_ms if attempt == 0 else hit_ms).append(elapsed)
            results[str(horizon)] = {"miss_ms": _summary(miss_ms), "hit_ms": _summary(hit_ms)}
    return results


def _summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def markdown(runs: dict[str, dict[str, Any]], categories: int) -> str:
    lines = [
        f"| cache | horizon | miss median / p95 (ms) | hit median / p95 (ms) | miss / hit (median) | "
        f"requests ({categories} categories) |",
        "|---|---|---|---|---|---|",
    ]
    for cache, by_horizon in runs.items():
        for horizon, row in by_horizon.items():
            miss, hit = row["miss_ms"], row["hit_ms"]
            lines.append(
                f"| {cache} | {horizon} | {miss['median']:.2f} / {miss['p95']:.2f} | "
                f"{hit['median']:.2f} / {hit['p95']:.2f} | {miss['median'] / hit['median']:.1f}x | "
                f"{miss['n']} misses, {hit['n']} hits |"
            )
    return "\n".join(lines)


def run(settings: Settings, work: Path, count: int, hits: int) -> dict[str, Any]:
    work = work.resolve()
    data = write_retailer_sample(
        work / "retailer.csv", settings.sample.seed, settings.sample.start, categories=count
    )
    base = settings.with_overrides(
        {"data": {"path": str(data), "categories": "auto"}, "paths": {"artifacts": str(work / "artifacts")}}
    )
    stack = servable_settings(base, work)
    archives = archive_all(stack)
    categories = sorted(archive.category for archive in archives)
    redis_server = start_redis(work / "redis")
    torchserve = torchserve_process(stack, archives).start()
    runs: dict[str, dict[str, Any]] = {}
    try:
        for cache, redis_url in (("in-process", None), ("redis", redis_server.url)):
            gateway_settings = stack.with_overrides(
                {"gateway": {"port": free_port()}, "redis": {"url": redis_url}}
            )
            with GatewayLauncher(gateway_settings, work / f"gateway-{cache}") as gateway:
                print(f"measuring the {cache} cache over {len(categories)} categories", flush=True)
                runs[cache] = measure(gateway.url, categories, hits)
    finally:
        torchserve.stop()
        redis_server.stop()
    return {
        "categories": len(categories),
        "hits_per_key": hits,
        "load_average": os.getloadavg(),
        "runs": runs,
    }
