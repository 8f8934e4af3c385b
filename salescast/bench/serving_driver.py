"""How `salescast bench serving` loads an HTTP layer (wrk when installed, else the in-process aiohttp
client) and meters the CPU the servers spend per item meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psutil

from core.settings import Settings
from salescast.bench.load import AnswerCheck, HttpRequest, LoadResult, batch_failures, http_load, ok_if_200
from salescast.bench.wrk import WrkError, find_wrk, wrk_load

Progress = Callable[[str], None]


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
        warmup = self.settings.bench.serving_warmup_requests
        if warmup:
            self._python_load(layer, requests, 1, self.duration_s, check, max_requests=warmup)
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
        if self.wrk is None:
            return self._python_load(layer, requests, concurrency, duration_s, check)
        bench = self.settings.bench
        return wrk_load(
            self.wrk,
            layer,
            requests,
            count_failed_items=check is batch_failures,
            concurrency=concurrency,
            duration_s=duration_s,
            timeout_s=bench.serving_request_timeout_s,
            threads=bench.serving_client_threads,
        )

    def _python_load(
        self,
        layer: str,
        requests: list[HttpRequest],
        concurrency: int,
        duration_s: float,
        check: AnswerCheck,
        *,
        max_requests: int | None = None,
    ) -> LoadResult:
        """The in-process aiohttp client (`max_requests` default: `bench.serving_max_requests`)."""
        bench = self.settings.bench
        limit = bench.serving_max_requests if max_requests is None else max_requests
        timeout_s = bench.serving_request_timeout_s
        load = http_load(
            layer,
            requests,
            concurrency=concurrency,
            duration_s=duration_s,
            max_requests=limit,
            timeout_s=timeout_s,
            check=check,
        )
        return asyncio.run(load)
