"""Training changes process-wide torch settings only while it runs (the gateway and tests share processes)."""

from __future__ import annotations

import torch

from training.fitting import torch_threads


def test_training_leaves_torch_settings_as_it_found_them() -> None:
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    with torch_threads(1):
        torch.use_deterministic_algorithms(True)
        assert torch.get_num_threads() == 1
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
