"""Isolated settings give every server of a stack its own port, and a fresh folder for what it writes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from core.settings import load_settings
from salescast.bench.isolation import free_port, isolated_settings


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # and it was free


@pytest.mark.parametrize("shard", ["0/2", "1/2", "2/3"])
def test_side_by_side_workers_take_disjoint_ports(shard: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two test workers never hand out one port: each takes only the ports of its own share."""
    monkeypatch.setenv("SALESCAST_PORT_SHARD", shard)
    index, count = (int(part) for part in shard.split("/"))
    assert {(free_port() // 2) % count for _ in range(50)} == {index}


@pytest.mark.parametrize("shard", ["", "2/2", "x/2", "1"])
def test_without_a_valid_share_any_port_goes(shard: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESCAST_PORT_SHARD", shard)
    assert len({(free_port() // 2) % 2 for _ in range(50)}) == 2


def test_isolated_settings_give_distinct_ports_and_paths_under_root(tmp_path: Path) -> None:
    settings = isolated_settings(load_settings(environ={}), tmp_path)
    ports = [
        settings.torchserve.inference_port,
        settings.torchserve.management_port,
        settings.torchserve.metrics_port,
        settings.torchserve.initial_worker_port,
        settings.gateway.port,
        settings.ui.port,
        settings.mlflow.ui_port,
    ]
    assert len(set(ports)) == len(ports)
    paths = settings.paths
    for path in (paths.model_store, paths.run, paths.jobs_db, paths.datasets):
        assert Path(path).resolve().is_relative_to(tmp_path.resolve())
