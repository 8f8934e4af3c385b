"""The external load client: wrk (C, one epoll loop per thread) sends the bench's prepared POSTs.

A Python client on the same 2 cores as the servers spends about as much CPU per request as the
server it measures, so its numbers say as much about the client as about the server. wrk costs a
few microseconds per request; `salescast bench serving` uses it whenever it is installed
(`apt-get install wrk`) and says so when it falls back to the in-process client.

The Lua script rotates over the requests (one `path<TAB>body` line each), counts the failed items
that batch answers report, keeps a few non-200 answers as examples and prints one JSON line with
the counts and latency percentiles.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import SalescastError
from salescast.bench.load import HttpRequest, LoadResult

RESULT_MARK = "WRK_RESULT "
EXAMPLE_MARK = "WRK_EXAMPLE "
QUANTILES = (50.0, 90.0, 99.0, 99.9)
# wrk gets this long past its duration and timeout before it is considered hung.
_GRACE_S = 30.0

LUA_SCRIPT = r"""
local requests = {}
local index = 0
local count_items = false
local threads = {}
failed_items = 0
examples = ""

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local path, body = line:match("^([^\t]+)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
  count_items = args[2] == "count-failed-items"
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status == 200 then
    if count_items then
      local failed = body:match('"failed"%s*:%s*(%d+)')
      if failed then failed_items = failed_items + tonumber(failed) end
    end
  elseif #examples < 1000 then
    examples = examples .. "WRK_EXAMPLE " .. status .. " " .. body:sub(1, 120):gsub("[\r\n]", " ") .. "\n"
  end
end

function done(summary, latency, requests)
  local failed, seen = 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failed_items")
    seen = seen .. thread:get("examples")
  end
  local e = summary.errors
  io.write(seen)
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "failed_items": %d, "q50": %d, "q90": %d, "q99": %d, "q99.9": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, failed,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
"""


class WrkError(SalescastError):
    """wrk is required but missing, or ran and gave no result (the message holds its output)."""


def find_wrk(command: str = "wrk") -> str | None:
    """The wrk executable, or None when it is not installed."""
    return shutil.which(command)


def wrk_load(
    wrk: str,
    layer: str,
    requests: Sequence[HttpRequest],
    *,
    concurrency: int,
    duration_s: float,
    timeout_s: float,
    threads: int,
    count_failed_items: bool = False,
) -> LoadResult:
    """`concurrency` keep-alive connections for `duration_s` (whole seconds, at least 1), cycling
    through `requests`; every request of a layer carries the same number of items."""
    origins = {urlsplit(request.url)._replace(path="", query="").geturl() for request in requests}
    item_counts = {request.items for request in requests}
    if len(origins) != 1 or len(item_counts) != 1:
        raise ValueError("wrk_load: every request must go to one server and carry the same items")
    items_per_request = item_counts.pop()
    with tempfile.TemporaryDirectory(prefix="salescast-wrk-") as folder:
        script = Path(folder) / "bench.lua"
        script.write_text(LUA_SCRIPT, encoding="utf-8")
        lines = Path(folder) / "requests.txt"
        lines.write_bytes(b"".join(_line(request) for request in requests))
        seconds = max(1, math.ceil(duration_s))
        command = [
            wrk,
            f"--threads={max(1, min(threads, concurrency))}",
            f"--connections={concurrency}",
            f"--duration={seconds}s",
            f"--timeout={max(1, math.ceil(timeout_s))}s",
            f"--script={script}",
            origins.pop(),
            "--",
            str(lines),
            "count-failed-items" if count_failed_items else "all-items",
        ]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + timeout_s + _GRACE_S, check=False
        )
    return _result(layer, concurrency, items_per_request, completed.stdout, completed.stderr)


def _line(request: HttpRequest) -> bytes:
    split = urlsplit(request.url)
    path = split.path + (f"?{split.query}" if split.query else "")
    if b"\n" in request.body or b"\t" in request.body:
        raise ValueError("wrk_load: request bodies must be one line without tabs (compact JSON)")
    return path.encode() + b"\t" + request.body + b"\n"


def _result(layer: str, concurrency: int, items_per_request: int, stdout: str, stderr: str) -> LoadResult:
    found = [line for line in stdout.splitlines() if line.startswith(RESULT_MARK)]
    if not found:
        raise WrkError(f"wrk gave no result for {layer}: {(stdout + stderr).strip()[-500:]}")
    counts = json.loads(found[-1][len(RESULT_MARK) :])
    completed, non_200 = int(counts["requests"]), int(counts["status"])
    broken = sum(int(counts[key]) for key in ("timeout", "connect", "read", "write"))
    failed_items = int(counts["failed_items"])
    result = LoadResult(
        layer,
        concurrency,
        requests=completed + int(counts["timeout"]),
        items=(completed - non_200) * items_per_request - failed_items,
        errors=(non_200 + broken) * items_per_request + failed_items,
        seconds=int(counts["duration_us"]) / 1e6,
        client="wrk",
        quantiles_ms={q: int(counts[f"q{q:g}"]) / 1000.0 for q in QUANTILES},
    )
    result.error_examples = [
        line[len(EXAMPLE_MARK) :] for line in stdout.splitlines() if line.startswith(EXAMPLE_MARK)
    ][:5]
    if broken:
        result.error_examples.append(
            f"{counts['timeout']} timeouts, {counts['connect']} connect / {counts['read']} read / "
            f"{counts['write']} write errors"
        )
    return result
