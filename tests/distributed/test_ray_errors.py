"""A Ray cluster that does not answer is a clear error before any training, not Ray's silent exit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from salescast.bench.isolation import LOOPBACK, free_port
from tests.conftest import make_test_settings
from tests.fixtures.training import SAMPLE_CATEGORIES
from training.pipeline import train_categories
from training.ray_executor import RayExecutorError


def test_an_absent_cluster_fails_before_training(tmp_path: Path) -> None:
    address = f"{LOOPBACK}:{free_port()}"  # nothing listens there
    settings = make_test_settings(tmp_path, training={"executor": "ray", "ray_address": address})
    started = time.monotonic()
    with pytest.raises(RayExecutorError, match=f"no Ray cluster answers at {address}"):
        train_categories(SAMPLE_CATEGORIES, "absent-cluster", settings)
    assert time.monotonic() - started < 10  # neither the shared networks nor Ray's ~40 s wait
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").iterdir())
