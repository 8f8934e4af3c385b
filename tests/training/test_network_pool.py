"""A forecaster's networks trained in worker processes are the ones this process would train."""

from __future__ import annotations

import importlib
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings
from tests.training.synthetic import weekly_series
from training import network_pool
from training.fitting import fit_forecaster
from training.forecaster import as_forecaster
from training.windows import make_category_windows


def test_workers_train_the_same_networks_as_one_process(test_settings: Settings, tmp_path: Path) -> None:
    """Three members, two of them in workers: the same forecasts to the last bit as all three here,
    so the served model does not depend on `training.network_workers`."""
    windows = make_category_windows(weekly_series(200), test_settings.window.size, test_settings.split)
    inputs = windows.inputs("test")
    forecasts = {}
    for workers in (0, 2):
        settings = test_settings.with_overrides(
            {"model": {"members": 3}, "training": {"network_workers": workers}}
        )
        fitted = fit_forecaster(windows, settings, tmp_path / f"workers-{workers}")
        forecasts[workers] = as_forecaster(fitted, fitted.normalization())(inputs)
    assert np.array_equal(forecasts[0], forecasts[2])
    assert len({path.parent.name for path in tmp_path.glob("workers-2/member-*/best*.ckpt")}) == 3


def test_a_worker_that_dies_fails_its_fit_and_not_the_next() -> None:
    with pytest.raises(BrokenProcessPool):
        network_pool.submit(1, os._exit, 3).result(timeout=120)
    assert network_pool.submit(1, pow, 2, 10).result(timeout=120) == 1024


def test_worker_count_leaves_the_first_network_to_this_process() -> None:
    assert [network_pool.worker_count(2, members) for members in (1, 2, 3, 5)] == [0, 1, 2, 2]
    assert network_pool.worker_count(0, 3) == 0


def test_a_spawned_worker_importing_the_cli_module_does_not_run_the_cli() -> None:
    """A spawned worker imports the parent's `__main__` again: `python -m salescast train` must not
    start another training there."""
    importlib.import_module("salescast.__main__")  # raised SystemExit before the guard
