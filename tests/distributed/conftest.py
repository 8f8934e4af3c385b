"""One real two-node Ray cluster per session for the distributed-training tests (`ray_cluster`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.distributed.ray_cluster import NODES, RayCluster, start_ray_cluster

_startup_seconds: list[float] = []


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """Head + worker node, one CPU each; always stopped (only its own processes)."""
    cluster = start_ray_cluster()
    _startup_seconds.append(cluster.startup_s)
    try:
        yield cluster
    finally:
        cluster.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how long the cluster took to start (part of the first distributed test's setup)."""
    for seconds in _startup_seconds:
        terminalreporter.write_line(f"ray: head + worker node up ({NODES} nodes alive) in {seconds:.1f} s")
