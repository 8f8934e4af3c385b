"""What the scale bench reads off processes: private memory of a process tree (from
`/proc/<pid>/smaps_rollup`), the peak RSS of a running tree, CPU seconds of reaped children, and
latency percentiles."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from core import supervisor

_PRIVATE_FIELDS = ("Private_Clean:", "Private_Dirty:")
_WORKER_MARK = "model_service_worker"  # TorchServe's Python model worker (ts/model_service_worker.py)
_MB = 2**20


@dataclass(frozen=True)
class TreeMemory:
    """Private memory (Private_Clean + Private_Dirty, MB) of TorchServe's processes: the frontend JVM,
    the model workers, and the Python launchers above them (`serve torchserve`, `ts.model_server`)."""

    frontend_mb: float
    workers_mb: float
    workers: int
    launchers_mb: float

    @property
    def torchserve_mb(self) -> float:
        """Frontend + workers: what TorchServe itself holds."""
        return self.frontend_mb + self.workers_mb


def private_bytes(pid: int) -> int:
    """Private_Clean + Private_Dirty of one process, from its smaps_rollup (0 once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    total_kb = sum(int(line.split()[1]) for line in lines if line.startswith(_PRIVATE_FIELDS))
    return total_kb * 1024


def torchserve_memory(tree: Iterable[psutil.Process]) -> TreeMemory:
    """Private memory of a TorchServe process tree, split into frontend, workers and launchers."""
    frontend = workers = launchers = 0
    count = 0
    for process in tree:
        try:
            name, cmdline = process.name(), " ".join(process.cmdline())
        except psutil.Error:
            continue
        size = private_bytes(process.pid)
        if name == "java" or "org.pytorch.serve.ModelServer" in cmdline:
            frontend += size
        elif _WORKER_MARK in cmdline:
            workers += size
            count += 1
        else:
            launchers += size
    return TreeMemory(_mb(frontend), _mb(workers), count, _mb(launchers))


def watch_peak_rss(process: supervisor.ManagedProcess, poll_s: float, timeout_s: float) -> int:
    """Peak resident bytes of `process` and its descendants, sampled every `poll_s` until it exits
    (or `timeout_s` passes: the caller then stops it)."""
    peak = 0
    deadline = time.monotonic() + timeout_s
    while process.exited() is None and time.monotonic() < deadline:
        total = 0
        for member in process.tree():
            with contextlib.suppress(psutil.Error):  # the member ended between listing and reading
                total += member.memory_info().rss
        peak = max(peak, total)
        time.sleep(poll_s)
    return peak


def children_cpu_s() -> float:
    """User + system CPU seconds of every reaped child of this process (and their reaped children):
    the difference around one child's life is that child's whole tree, pool workers included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Latency:
    """Latency of a set of requests, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency | None:
        if not seconds:
            return None
        ms = np.asarray(seconds, dtype=np.float64) * 1000
        p50, p99 = np.percentile(ms, [50, 99])
        return cls(len(ms), round(float(p50), 2), round(float(p99), 2), round(float(ms.max()), 2))


def _mb(size: int) -> float:
    return round(size / _MB, 1)
