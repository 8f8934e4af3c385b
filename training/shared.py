"""The networks that learn across categories, trained once per training run instead of once per
category (a global model on every category's windows, as the M5 winners train theirs).

With `model.pool_categories` every category's networks learn from every category's windows, so
training them per category repeats the same work C times (O(C²)). Here one run trains two sets:
the evaluation networks on each category's train/validation windows (each category's own windows
end before its own test days, so no evaluation sees the days it is scored on) and the served ones
on each category's serving windows. Each category then fits only its classical part and freezes
these networks into its own `model.pt`. The weights are saved under `<paths.artifacts>/_shared/<id>/`
and every version's manifest names them (`SharedNetwork`).

The accuracy bench makes a fold's networks the same way (`train_networks_before`): one set on every
category's windows of the days before the fold's cut-off, as a run trains its served set.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from core.atomic import atomic_path
from core.contracts.manifest import SharedNetwork
from core.settings import Settings
from training.fitting import train_networks
from training.model import CNNLSTM
from training.windows import CategoryWindows, InsufficientHistoryError, make_category_windows, windows_before

logger = logging.getLogger(__name__)

SHARED_DIR = "_shared"
"""Folder under `paths.artifacts` holding the shared networks' weights (not a category: it holds
no version folder, so nothing lists it as one)."""
WEIGHTS_FILE = "networks.pt"


class LossCurve(Callback):
    """Per-epoch train/val loss of one fit, kept to be replayed into each category's run and plot."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        self.train_loss.append(float(metrics["train_loss"]))
        self.val_loss.append(float(metrics["val_loss"]) if "val_loss" in metrics else math.nan)
        logger.info(
            "epoch shared phase=%s epoch=%d train_loss=%.4f val_loss=%.4f",
            self.phase,
            trainer.current_epoch + 1,
            self.train_loss[-1],
            self.val_loss[-1],
        )


@dataclass(frozen=True)
class SharedNetworks:
    """Both sets of one run, their loss curves and their record for the manifests."""

    evaluation: list[CNNLSTM]
    served: list[CNNLSTM]
    evaluation_curve: LossCurve
    served_curve: LossCurve
    record: SharedNetwork


def shared_windows(
    sales: Mapping[str, pd.Series], settings: Settings
) -> tuple[list[CategoryWindows], list[CategoryWindows]]:
    """Every category's evaluation windows (train/validation, before its own test days) and serving
    windows, in the data's order; categories too short for windows are left out."""
    evaluation, served = [], []
    for series in sales.values():
        try:
            windows = make_category_windows(series, settings.window.size, settings.split)
        except InsufficientHistoryError:
            continue
        evaluation.append(windows)
        served.append(windows.for_serving(settings.split))
    return evaluation, served


def train_shared_networks(
    sales: Mapping[str, pd.Series], settings: Settings, started: datetime
) -> SharedNetworks | None:
    """Train the run's two sets of networks on every category of `sales` and save them; None when
    the networks do not pool categories (each category then trains its own) or no category has
    enough history."""
    if not settings.model.pool_categories:
        return None
    evaluation_windows, served_windows = shared_windows(sales, settings)
    if not evaluation_windows:
        return None
    categories = [windows.category for windows in evaluation_windows]
    logger.info("training shared networks categories=%d members=%d", len(categories), settings.model.members)
    evaluation_curve, served_curve = LossCurve("evaluation"), LossCurve("serving")
    with tempfile.TemporaryDirectory(prefix="salescast-shared-") as checkpoints:
        evaluation = train_networks(
            evaluation_windows, settings, Path(checkpoints) / "evaluation", callbacks=[evaluation_curve]
        )
        served = train_networks(
            served_windows, settings, Path(checkpoints) / "serving", callbacks=[served_curve]
        )
    network_id = shared_id([*evaluation, *served], started)
    folder = Path(SHARED_DIR) / network_id
    save_networks(settings.paths.artifacts / folder / WEIGHTS_FILE, evaluation, served)
    record = SharedNetwork(
        id=network_id, trained_at=started, categories=categories, weights=folder.as_posix()
    )
    logger.info("shared networks saved id=%s path=%s", network_id, settings.paths.artifacts / folder)
    return SharedNetworks(evaluation, served, evaluation_curve, served_curve, record)


def windows_before_day(
    sales: Mapping[str, pd.Series], before: pd.Timestamp, settings: Settings
) -> list[CategoryWindows]:
    """Every category's train/validation windows of the days before `before`, split as a served fit
    is (`windows_before`; with `before` after the last day they are `for_serving`'s), in the data's
    order; categories too short are left out."""
    windows = []
    for name, series in sales.items():
        days = series.loc[: before - pd.Timedelta(days=1)]
        values = days.to_numpy(dtype=np.float64)
        try:
            windows.append(
                windows_before(
                    str(name),
                    values,
                    pd.DatetimeIndex(days.index),
                    len(values),
                    settings.window.size,
                    settings.split,
                )
            )
        except InsufficientHistoryError:
            continue
    return windows


def train_networks_before(
    sales: Mapping[str, pd.Series], before: pd.Timestamp, settings: Settings
) -> list[CNNLSTM] | None:
    """The networks every category's forecaster made from the days before `before` freezes in: one
    set trained on every category's windows of those days (`windows_before_day`), as a run trains its
    served set; None when the networks do not pool categories (each forecaster then trains its own)
    or no category has enough history. What the accuracy bench trains once per fold and seed."""
    if not settings.model.pool_categories:
        return None
    windows = windows_before_day(sales, before, settings)
    if not windows:
        return None
    logger.info(
        "training shared networks before=%s categories=%d members=%d",
        before.date(),
        len(windows),
        settings.model.members,
    )
    with tempfile.TemporaryDirectory(prefix="salescast-shared-") as checkpoints:
        return train_networks(windows, settings, Path(checkpoints))


def shared_id(networks: Sequence[CNNLSTM], started: datetime) -> str:
    """A short name of `networks`: the hash of their weights and the run's start time."""
    digest = hashlib.sha256(started.isoformat().encode())
    for network in networks:
        for name, tensor in network.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_networks(path: Path, evaluation: Sequence[CNNLSTM], served: Sequence[CNNLSTM]) -> Path:
    """Both sets' state dicts in one file, written atomically (a later refit can load them into
    networks of the same `model` settings)."""
    payload = {
        "evaluation": [network.state_dict() for network in evaluation],
        "served": [network.state_dict() for network in served],
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path
