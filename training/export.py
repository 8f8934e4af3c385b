"""TorchScript export of a trained forecaster: `model.pt`, what TorchServe's handler loads.

`model.pt` takes normalized windows (`training/forecaster.py` says how); it is loaded and run by
`handlers.forecast_steps.load_model` / `predict` only, in training as in serving.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from core.atomic import atomic_path


def export_torchscript(model: nn.Module, path: Path) -> None:
    """Script a CPU, eval-mode copy of `model` and save it atomically to `path`."""
    scripted = torch.jit.script(copy.deepcopy(model).cpu().eval())
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))  # type: ignore[no-untyped-call]
