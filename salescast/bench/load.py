"""Bounded closed-loop load: C clients each send their next request as soon as the last one
answered, until the duration or the request cap is reached. Latency is per request; throughput is
counted in items (one per request, or the items of a batch request).

`http_load` is the in-process HTTP client (aiohttp: a fraction of httpx's CPU per request, which
matters because it shares the cores with the servers); `salescast.bench.wrk` drives the same
requests from wrk, a separate C process, when it is installed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import numpy as np
import orjson


@dataclass
class LoadResult:
    """One layer at one concurrency. Latencies are either every sample (in-process clients) or the
    percentiles an external client computed (`quantiles_ms`, keyed by percentile)."""

    layer: str
    concurrency: int
    requests: int
    items: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    error_examples: list[str] = field(default_factory=list)
    client: str = "python"
    quantiles_ms: dict[float, float] = field(default_factory=dict)
    # CPU milliseconds per item spent by each server (`torchserve`, `gateway`) or in-process
    # (`in-process`) while the layer ran: the cost, nearly independent of other load on the machine.
    cpu_ms_per_item: dict[str, float] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if self.latencies_ms:
            return float(np.percentile(self.latencies_ms, q))
        return self.quantiles_ms.get(q, float("nan"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"]
        data["quantiles_ms"] = {str(q): round(v, 3) for q, v in self.quantiles_ms.items()}
        data["cpu_ms_per_item"] = {name: round(v, 4) for name, v in self.cpu_ms_per_item.items()}
        data.update(
            items_per_s=round(self.items_per_s, 1),
            p50_ms=round(self.percentile_ms(50), 2),
            p99_ms=round(self.percentile_ms(99), 2),
        )
        return data


@dataclass(frozen=True)
class HttpRequest:
    """A prepared POST: JSON bytes and the number of items it carries."""

    url: str
    body: bytes
    items: int = 1


# Checks the body of a 200 answer; returns the number of failed items in it (batch answers report
# their own).
AnswerCheck = Callable[[bytes], int]


def ok_if_200(body: bytes) -> int:
    return 0


def batch_failures(body: bytes) -> int:
    """Failed items of a `POST /api/predict/batch` answer."""
    return int(orjson.loads(body)["failed"])


async def http_load(
    layer: str,
    requests: Sequence[HttpRequest],
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    timeout_s: float,
    check: AnswerCheck = ok_if_200,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Cycle through `requests` with `concurrency` clients; a non-200, timeout or failed item is an error."""
    result = LoadResult(layer, concurrency, 0, 0, 0, 0.0)
    sent = 0
    all_headers = {"content-type": "application/json", **(headers or {})}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=all_headers) as client:
        start = time.perf_counter()
        deadline = start + duration_s

        async def client_loop() -> None:
            nonlocal sent
            while time.perf_counter() < deadline and sent < max_requests:
                request = requests[sent % len(requests)]
                sent += 1
                began = time.perf_counter()
                failed = request.items
                try:
                    async with client.post(request.url, data=request.body) as response:
                        body = await response.read()
                    if response.status == 200:
                        failed = check(body)
                    else:
                        _remember(result, f"{response.status} {body[:120].decode(errors='replace')}")
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    _remember(result, f"{type(exc).__name__}: {exc}")
                result.latencies_ms.append((time.perf_counter() - began) * 1000.0)
                result.requests += 1
                result.items += request.items - failed
                result.errors += failed

        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - start
    return result


def thread_load(
    layer: str,
    call: Callable[[int], None],
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    items_per_call: int = 1,
) -> LoadResult:
    """The same closed loop with threads calling `call(i)` in-process (torch releases the GIL)."""
    result = LoadResult(layer, concurrency, 0, 0, 0, 0.0, client="in-process")
    lock = threading.Lock()
    counter = iter(range(max_requests))
    start = time.perf_counter()
    deadline = start + duration_s

    def loop() -> None:
        while time.perf_counter() < deadline:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            began = time.perf_counter()
            try:
                call(index)
                ok = True
            except Exception as exc:  # counted and shown as an error of this layer
                ok = False
                with lock:
                    _remember(result, f"{type(exc).__name__}: {exc}")
            elapsed = (time.perf_counter() - began) * 1000.0
            with lock:
                result.latencies_ms.append(elapsed)
                result.requests += 1
                result.items += items_per_call if ok else 0
                result.errors += 0 if ok else items_per_call

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


def _remember(result: LoadResult, message: str, keep: int = 5) -> None:
    if len(result.error_examples) < keep:
        result.error_examples.append(message)
