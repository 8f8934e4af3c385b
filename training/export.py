"""TorchScript export of a trained `CNNLSTM` and batched inference with a scripted model.

`model.pt` is what TorchServe's handler loads: `forward(x: [B, N] float32, normalized) -> [B]`.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.atomic import atomic_path
from training.windows import FloatArray


def export_torchscript(model: nn.Module, path: Path) -> None:
    """Script a CPU, eval-mode copy of `model` and save it atomically to `path`."""
    scripted = torch.jit.script(copy.deepcopy(model).cpu().eval())
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))  # type: ignore[no-untyped-call]


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    """Load a `model.pt` for CPU inference."""
    module: torch.jit.ScriptModule = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    return module.eval()


def predict_normalized(model: torch.nn.Module, inputs: FloatArray, batch_size: int = 1024) -> FloatArray:
    """Run `model` (eager or scripted) over `[W, N]` normalized windows; returns `[W]` float64."""
    outputs: list[FloatArray] = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            batch = torch.from_numpy(
                np.ascontiguousarray(inputs[start : start + batch_size], dtype=np.float32)
            )
            outputs.append(model(batch).numpy().astype(np.float64))
    return np.concatenate(outputs) if outputs else np.zeros(0, dtype=np.float64)
