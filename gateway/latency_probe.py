"""Median latency of `POST /api/predict` next to TorchServe's inference API, same run, same window.

Each concurrency level runs both targets in alternating rounds (gateway, TorchServe, gateway, …) so
a noisy neighbour on a shared machine hits both alike. Every request must answer 200.

    python -m gateway.latency_probe --category Beauty --requests 400 --concurrency 1,16
    python -m gateway.latency_probe --gateway-url http://127.0.0.1:8000 \\
        --torchserve-url http://127.0.0.1:8080 --category Beauty --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from core.settings import load_settings
from core.slugs import category_slug

_ROUNDS = 4


@dataclass(frozen=True)
class Latency:
    target: str
    concurrency: int
    requests: int
    median_ms: float
    p90_ms: float
    throughput_rps: float


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    body: dict[str, Any]


async def measure(
    client: httpx.AsyncClient, target: Target, requests: int, concurrency: int
) -> tuple[list[float], float]:
    """Per-request seconds of `requests` POSTs with `concurrency` in flight, and the wall time."""
    durations: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            response = await client.post(target.url, json=target.body)
            durations.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise RuntimeError(f"{target.name} answered {response.status_code}: {response.text[:200]}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return durations, time.perf_counter() - began


async def compare(
    gateway_url: str, torchserve_url: str, category: str, requests: int, levels: Sequence[int], warmup: int
) -> list[Latency]:
    """Both targets at every concurrency level, alternating rounds; returns one row per target and level."""
    limits = httpx.Limits(max_connections=max(levels) * 2, max_keepalive_connections=max(levels) * 2)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        models = (await client.get(f"{gateway_url}/api/models")).json()["models"]
        window = next(model["window_size"] for model in models if model["category"] == category)
        sales = [100.0 + 3.0 * day for day in range(window)]
        targets = [
            Target(
                "gateway POST /api/predict",
                f"{gateway_url}/api/predict",
                {"category": category, "sales": sales},
            ),
            Target(
                "TorchServe POST /predictions/<model>",
                f"{torchserve_url}/predictions/{category_slug(category)}",
                {"sales": sales},
            ),
        ]
        rows: list[Latency] = []
        for concurrency in levels:
            for target in targets:
                await measure(client, target, warmup, concurrency)
            samples: dict[str, list[float]] = {target.name: [] for target in targets}
            walls: dict[str, float] = {target.name: 0.0 for target in targets}
            per_round = max(1, requests // _ROUNDS)
            for _ in range(_ROUNDS):
                for target in targets:
                    durations, wall = await measure(client, target, per_round, concurrency)
                    samples[target.name] += durations
                    walls[target.name] += wall
            for target in targets:
                ms = sorted(value * 1000 for value in samples[target.name])
                rows.append(
                    Latency(
                        target=target.name,
                        concurrency=concurrency,
                        requests=len(ms),
                        median_ms=round(statistics.median(ms), 2),
                        p90_ms=round(ms[int(0.9 * (len(ms) - 1))], 2),
                        throughput_rps=round(len(ms) / walls[target.name], 1),
                    )
                )
    return rows


def markdown(rows: Sequence[Latency]) -> str:
    lines = [
        "| target | concurrency | requests | median ms | p90 ms | req/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.target} | {r.concurrency} | {r.requests} | {r.median_ms} | {r.p90_ms} | {r.throughput_rps} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--gateway-url", default=f"http://{settings.gateway.host}:{settings.gateway.port}")
    parser.add_argument("--torchserve-url", default=settings.torchserve.inference_base_url)
    parser.add_argument("--category", default="Beauty")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per target and level")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--concurrency", default="1,16", help="comma-separated levels")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    rows = asyncio.run(
        compare(
            args.gateway_url.rstrip("/"),
            args.torchserve_url.rstrip("/"),
            args.category,
            args.requests,
            levels,
            args.warmup,
        )
    )
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
