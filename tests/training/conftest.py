"""Training tests run torch on one thread: the CI machine has 2 shared cores, and OpenMP spin-waits
between two threads make tiny models many times slower under load."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
