"""TorchScript export of a trained forecaster: `model.pt`, what TorchServe's handler loads.

`model.pt` takes normalized windows (`training/forecaster.py` says how); it is loaded and run by
`handlers.forecast_steps.load_model` / `predict` only, in training as in serving.

A run over many categories freezes the same shared networks into every category's forecaster
(`training.shared`). Scripting a network costs ~0.1 s, nearly all of it TorchScript reading the LSTM's
source again for its overloads, so each network is scripted once (`_scripted`) and its compiled copy
reused by every later export, for as long as its weights stay as they were.
"""

from __future__ import annotations

import copy
import weakref
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import atomic_path
from training.model import CNNLSTM

_SCRIPTED: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[int, ...], Any]] = weakref.WeakKeyDictionary()
"""Each network exported so far → (its tensors' versions when scripted, its scripted CPU eval copy)."""


def export_torchscript(model: nn.Module, path: Path) -> None:
    """Script a CPU, eval-mode copy of `model` and save it atomically to `path`."""
    # deepcopy takes a network's scripted copy from the memo instead of copying it again
    reused = {id(network): _scripted(network) for network in model.modules() if isinstance(network, CNNLSTM)}
    scripted = torch.jit.script(copy.deepcopy(model, reused).cpu().eval())
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))  # type: ignore[no-untyped-call]


def _scripted(network: CNNLSTM) -> Any:
    """`network` scripted as a CPU eval-mode copy: from the cache unless a tensor of it changed
    in place since (an optimizer step or `load_state_dict` bumps its version)."""
    versions = tuple(tensor._version for tensor in network.state_dict(keep_vars=True).values())
    cached = _SCRIPTED.get(network)
    if cached is not None and cached[0] == versions:
        return cached[1]
    scripted = torch.jit.script(copy.deepcopy(network).cpu().eval())
    _SCRIPTED[network] = (versions, scripted)
    return scripted
