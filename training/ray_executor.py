"""Run independent pieces of work (one category each) as Ray tasks: `training.executor: ray`.

Imported only when that executor is configured, and `ray` (the `ray` extra) only when a session
starts, so without it the user gets a `RayExecutorError` saying what to install.
`ray_session` joins the cluster `training.ray_address` names (None: Ray's own rule — RAY_ADDRESS,
else a cluster `ray start` runs on this machine, else a new local one) unless this process is
already connected. `map_on_ray` runs `fn(*item, **common)` once per item, each in a task of
`training.num_threads` CPUs whose torch runs on that many threads (the local executor pins the same
count, so both compute the same numbers); `common` values go to the object store once, not once
per task. Results come back as tasks finish, with the node each ran on.

What the tasks write must reach the driver: they get settings whose `paths.artifacts` is absolute,
which on one machine is the same folder, and on several must be a volume every node mounts at that
path (docs/training.md).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch

from core.errors import SalescastError
from core.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# a named cluster must accept a TCP connection this fast (Ray's driver itself waits ~40 s, then exits)
_PROBE_TIMEOUT_S = 5.0


class RayExecutorError(SalescastError):
    """Ray is not installed, or the cluster the settings or RAY_ADDRESS name does not answer."""


@dataclass(frozen=True)
class TaskOutput(Generic[T]):
    """What one task returned, where it ran and how long it took there."""

    value: T
    node_id: str
    seconds: float


@contextmanager
def ray_session(settings: Settings) -> Iterator[None]:
    """Connected to the configured cluster for the block (left connected when it already was)."""
    import ray

    if ray.is_initialized():
        yield
        return
    preflight(settings)
    address = settings.training.ray_address
    ray.init(address=address, logging_level=logging.WARNING)
    logger.info(
        "ray connected address=%s nodes=%d cpus=%s",
        address or os.environ.get("RAY_ADDRESS", "auto"),
        len([node for node in ray.nodes() if node.get("Alive")]),
        ray.cluster_resources().get("CPU", 0),
    )
    try:
        yield
    finally:
        ray.shutdown()


def preflight(settings: Settings) -> None:
    """Fail in seconds, before any training, when Ray is not installed or the cluster named by
    `training.ray_address` or RAY_ADDRESS does not answer (`RayExecutorError`)."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise RayExecutorError(
            f"training.executor is `ray` but Ray cannot be imported ({exc}): pip install -e '.[ray]'"
        ) from exc
    _check_reachable(settings.training.ray_address or os.environ.get("RAY_ADDRESS"))


def _check_reachable(address: str | None) -> None:
    """A `host:port` cluster address must answer before `ray.init` is called: Ray's own driver waits
    for an absent cluster about 40 s and then ends the whole process without an exception."""
    if not address or address == "auto" or "://" in address:
        return  # Ray's discovery of a local cluster, or Ray Client
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=_PROBE_TIMEOUT_S):
            return
    except (OSError, ValueError) as exc:
        raise RayExecutorError(
            f"no Ray cluster answers at {address} (training.ray_address or RAY_ADDRESS): {exc}; start "
            "one with `ray start --head`, or set training.executor to local"
        ) from None


def task_settings(settings: Settings) -> Settings:
    """`settings` as a task gets them: `paths.artifacts` absolute (a worker's working folder is not
    the driver's), and a forecaster's networks trained one after another in the task's own process
    (its CPUs are what Ray gave it; the networks are the same either way, `training.network_pool`)."""
    return settings.with_overrides(
        {
            "paths": {"artifacts": str(settings.paths.artifacts.resolve())},
            "training": {"network_workers": 0},
        }
    )


def map_on_ray(
    settings: Settings,
    fn: Callable[..., T],
    items: Sequence[tuple[Any, ...]],
    common: Mapping[str, Any],
) -> Iterator[tuple[int, TaskOutput[T] | Exception]]:
    """`(index, output)` of `fn(*items[index], **common)` for every item, in the order the tasks
    finish; a task that raised or whose worker died gives its exception instead (the others go on).
    Call inside `ray_session`."""
    import ray

    threads = settings.training.num_threads
    shared = {name: ray.put(value) for name, value in common.items()}
    # SPREAD: the categories go to every node rather than filling the first one's CPUs first
    task: Any = ray.remote(_run).options(num_cpus=threads, max_retries=0, scheduling_strategy="SPREAD")
    level = logging.getLogger().getEffectiveLevel()
    pending = {task.remote(fn, item, threads, level, **shared): index for index, item in enumerate(items)}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        index = pending.pop(done[0])
        try:
            output: TaskOutput[T] | Exception = ray.get(done[0])
        except ray.exceptions.RayError as exc:
            logger.error("ray task failed item=%d error=%s", index, exc)
            output = exc
        yield index, output


def _run(
    fn: Callable[..., T], item: tuple[Any, ...], threads: int, level: int, **common: Any
) -> TaskOutput[T]:
    """The task: torch on `threads` threads (Ray gave it that many CPUs), this worker's log lines at
    the driver's level (Ray forwards them to the driver), then `fn`. `common` arrive as keyword
    arguments, so Ray hands over the stored values, not their references."""
    import ray

    logging.basicConfig(level=level, format=LOG_FORMAT)
    started = time.monotonic()
    torch.set_num_threads(threads)
    value = fn(*item, **common)
    node_id = ray.get_runtime_context().get_node_id()
    return TaskOutput(value, node_id, time.monotonic() - started)
