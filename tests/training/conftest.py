"""Training tests run torch on one thread: the CI machine has 2 shared cores, and OpenMP spin-waits
between two threads make tiny models many times slower under load. One tiny run of three synthetic
categories is trained once for the tests of `--only-changed` and the shared-network refit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from core.settings import Settings
from tests.training.runs import TrainedRun, train_run


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def abc_run(tmp_path_factory: pytest.TempPathFactory, test_settings: Settings) -> TrainedRun:
    """Three synthetic categories trained once per session; copy it (`copy_run`) before changing it."""
    return train_run(tmp_path_factory.mktemp("abc-run"), test_settings)
