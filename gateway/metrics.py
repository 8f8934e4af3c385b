"""Prometheus metrics of one gateway app (its own registry, so several apps can live in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """Requests by route and status, latency, predictions by category, training jobs by outcome;
    `collectors` add gauges read at scrape time (the job store's: `gateway.training_metrics`, the
    served versions: `gateway.served_metrics`)."""

    def __init__(self, *collectors: Collector) -> None:
        self.registry = CollectorRegistry()
        for collector in collectors:
            self.registry.register(collector)
        self.requests = Counter(
            "salescast_gateway_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "salescast_gateway_request_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "salescast_gateway_predictions",
            "Predictions answered (single, batch items and forecasts), by category and outcome.",
            ["category", "outcome"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "salescast_gateway_training_jobs",
            "Training jobs finished, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        # Set by gateway.live_accuracy once a served version has enough scored days; absent before
        # (the alert rule fires only once a series exists).
        self.live_rmse_ratio = Gauge(
            "salescast_live_rmse_ratio_to_seasonal_naive",
            "Served model's RMSE on the days since it was trained over the seasonal naive's, by category.",
            ["category"],
            registry=self.registry,
        )

        # Label children by label values: `labels()` validates and sorts its arguments on every call,
        # three times per prediction otherwise.
        self._answered: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._predicted: dict[tuple[str, str], Counter] = {}

    def answered(self, route: str, method: str, status: str, seconds: float) -> None:
        """One HTTP request answered."""
        key = (route, method, status)
        children = self._answered.get(key)
        if children is None:
            children = self._answered[key] = (
                self.requests.labels(route=route, method=method, status=status),
                self.latency.labels(route=route, method=method),
            )
        children[0].inc()
        children[1].observe(seconds)

    def predicted(self, category: str, outcome: str, count: int = 1) -> None:
        """`count` predictions of `category` answered with `outcome` (`ok` or `error`)."""
        child = self._predicted.get((category, outcome))
        if child is None:
            child = self._predicted[(category, outcome)] = self.predictions.labels(
                category=category, outcome=outcome
            )
        child.inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request under its route template (`/api/jobs/{job_id}`), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope.get("method", "GET")
            self.metrics.answered(route_template(scope), method, str(status), time.perf_counter() - start)


def route_template(scope: Scope) -> str:
    """`/api/jobs/{job_id}` for `/api/jobs/abc`: the matched route's path under its router prefix."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    params = scope.get("path_params") or {}
    try:
        concrete = path.format(**params) if params else path
    except (KeyError, IndexError, ValueError):
        return path
    actual = str(scope.get("path", ""))
    prefix = actual[: -len(concrete)] if concrete and actual.endswith(concrete) else ""
    return prefix + path
