"""Worker processes that train a forecaster's networks beside the one trained here.

One network's fit is single-threaded, Python-heavy work on tiny tensors, so on a 2-core machine two
fits side by side take about the time of one. The workers are spawned, not forked (torch's OpenMP
pool does not survive a fork), once per process and then reused: each pays torch's and Lightning's
import, a few seconds. A worker runs the same seeded, deterministic fit on one thread as this process
would, so the networks, and the forecasts, are the same either way (a test holds it).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def worker_count(network_workers: int, members: int) -> int:
    """Workers a forecaster of `members` networks uses: the first network trains in this process."""
    return max(0, min(network_workers, members - 1))


def submit(workers: int, fn: Callable[..., T], /, *args: Any) -> Future[T]:
    """Run `fn(*args)` in the pool of `workers` processes (made or resized on first use; made again
    when a worker died, so one lost worker fails one fit, not every fit after it)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool, _pool_size = _spawn_pool(workers), workers
        try:
            return _pool.submit(fn, *args)
        except BrokenProcessPool:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = _spawn_pool(workers)
            return _pool.submit(fn, *args)


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def warm_up(workers: int) -> None:
    """Start the workers and their imports now, while this process reads data, instead of at the
    first fit (returns at once)."""
    for _ in range(workers):
        submit(workers, _import_training)


def shutdown() -> None:
    """Stop the workers (they also stop when this process exits)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


def _import_training() -> None:
    import lightning.pytorch  # noqa: F401  # the slow part of a fit's imports (torch with it)
