"""One real two-node Ray cluster per session for the distributed-training tests (`ray_cluster`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.distributed.ray_cluster import NODES, RayCluster, start_ray_cluster
from tests.fixtures.parallel import announce


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """Head + worker node, one CPU each; always stopped (only its own processes)."""
    cluster = start_ray_cluster()
    # part of the first distributed test's setup
    announce(f"ray: head + worker node up ({NODES} nodes alive) in {cluster.startup_s:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()
