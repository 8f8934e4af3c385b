"""The serving bench's load clients against a real local HTTP server, and the ratios it reports.

wrk is a system package (`.ci/run` installs it); the in-process client is the fallback, so both must
count answers, failed batch items and non-200s the same way.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.settings import load_settings
from salescast.bench.load import AnswerCheck, HttpRequest, LoadResult, batch_failures, http_load, ok_if_200
from salescast.bench.serving_driver import HttpDriver
from salescast.bench.serving_markdown import serving_markdown
from salescast.bench.serving_report import ServingReport
from salescast.bench.wrk import find_wrk, wrk_load

ITEMS = 4


class _Handler(BaseHTTPRequestHandler):
    """`/ok` → 200; `/batch` → 200 with one failed item of the batch; anything else → 422."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real servers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/ok":
            status, body = 200, b'{"prediction": 1.0}'
        elif self.path == "/batch":
            status, body = 200, json.dumps({"results": [], "succeeded": ITEMS - 1, "failed": 1}).encode()
        else:
            status, body = 422, b'{"detail": "expected 14 values, got 3"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _check_counts(result: LoadResult, *, items: int, failed_per_request: int) -> None:
    assert result.requests > 0
    assert result.items == result.requests * (items - failed_per_request)
    assert result.errors == result.requests * failed_per_request
    assert result.percentile_ms(50) > 0
    assert result.percentile_ms(99) >= result.percentile_ms(50)


def test_python_client_counts_answers_failed_items_and_errors(server_url: str) -> None:
    async def run(requests: list[HttpRequest], check: AnswerCheck = ok_if_200) -> LoadResult:
        return await http_load(
            "x", requests, concurrency=2, duration_s=5.0, max_requests=20, timeout_s=5.0, check=check
        )

    ok = asyncio.run(run([HttpRequest(f"{server_url}/ok", b"{}")]))
    _check_counts(ok, items=1, failed_per_request=0)
    batch = asyncio.run(run([HttpRequest(f"{server_url}/batch", b"{}", items=ITEMS)], batch_failures))
    _check_counts(batch, items=ITEMS, failed_per_request=1)
    bad = asyncio.run(run([HttpRequest(f"{server_url}/bad", b"{}")]))
    _check_counts(bad, items=1, failed_per_request=1)
    assert bad.error_examples and bad.error_examples[0].startswith("422 ")


@pytest.mark.skipif(find_wrk() is None, reason="wrk is not installed (apt-get install wrk)")
def test_wrk_counts_answers_failed_items_and_errors(server_url: str) -> None:
    wrk = find_wrk()
    assert wrk is not None

    def run(path: str, items: int = 1, count: bool = False) -> LoadResult:
        requests = [HttpRequest(f"{server_url}{path}", b'{"sales": [1, 2]}', items=items)]
        return wrk_load(
            wrk, "x", requests, concurrency=2, duration_s=1, timeout_s=5, threads=1, count_failed_items=count
        )

    ok = run("/ok")
    _check_counts(ok, items=1, failed_per_request=0)
    assert ok.client == "wrk" and ok.seconds >= 1.0
    _check_counts(run("/batch", ITEMS, count=True), items=ITEMS, failed_per_request=1)
    bad = run("/bad")
    _check_counts(bad, items=1, failed_per_request=1)
    assert bad.error_examples and bad.error_examples[0].startswith("422 ")


def test_a_missing_wrk_falls_back_to_the_python_client_and_says_so(tmp_path: Path) -> None:
    settings = load_settings(environ={}).with_overrides({"bench": {"serving_wrk": str(tmp_path / "no-wrk")}})
    said: list[str] = []
    driver = HttpDriver(settings, 1.0, said.append)
    assert driver.wrk is None
    assert "wrk not found" in driver.name and any("apt-get install wrk" in line for line in said)


def _result(layer: str, concurrency: int, items_per_s: float, p50: float, p99: float) -> LoadResult:
    cpu = {"in-process": 0.1} if layer.startswith("floor") else {"torchserve": 1.0, "gateway": 0.2}
    return LoadResult(
        layer,
        concurrency,
        10,
        int(items_per_s * 10),
        0,
        10.0,
        quantiles_ms={50.0: p50, 99.0: p99},
        cpu_ms_per_item=cpu,
    )


def test_the_report_has_every_ratio_the_issue_asks_for() -> None:
    results = [
        _result("floor", 1, 10000, 0.1, 0.2),
        _result("torchserve", 1, 400, 2.5, 4.0),
        _result("gateway", 1, 360, 3.0, 5.0),
        _result("floor", 16, 9000, 0.1, 0.3),
        _result("torchserve", 16, 1000, 15.0, 40.0),
        _result("gateway", 16, 900, 17.0, 50.0),
        _result("floor_batch", 1, 200000, 5.0, 6.0),
        _result("torchserve_batch", 1, 80000, 12.5, 14.0),
        _result("gateway_batch", 1, 64000, 15.6, 18.0),
    ]
    report = ServingReport({"workers": 1, "batch_size": 1, "max_batch_delay_ms": 5}, 10.0, 1000, results)
    single = {row["concurrency"]: row for row in report.ratios()}
    assert math.isclose(single[1]["gateway_over_torchserve_rps"], 0.9)
    assert math.isclose(single[1]["gateway_added_p50_ms"], 0.5)
    assert math.isclose(single[16]["torchserve_over_floor_rps"], 1000 / 9000)
    assert math.isclose(single[16]["gateway_over_torchserve_cpu"], 0.2)
    (batch,) = report.batch_ratios()
    assert math.isclose(batch["gateway_over_torchserve_rps"], 0.8)
    assert math.isclose(batch["torchserve_over_floor_rps"], 0.4)
    (scaling,) = report.scaling()
    assert math.isclose(scaling["torchserve_rps_ratio"], 2.5) and scaling["torchserve_p99_ms"] == 40.0
    markdown = serving_markdown(report)
    for text in (
        "gateway/TorchServe items/s",
        "gateway added p50 ms",
        "TorchServe/floor items/s",
        "+0.50",
        "CPU",
    ):
        assert text in markdown
    assert "Batches of 1000 items" in markdown and "| 1 → 16 | 2.500 | 40.0 |" in markdown
