"""The networks that learn across categories, trained once per training run instead of once per
category (a global model on every category's windows, as the M5 winners train theirs).

With `model.pool_categories` every category's networks learn from every category's windows, so
training them per category repeats the same work C times (O(C²)). Here one run trains two sets:
the evaluation networks on each category's train/validation windows (each category's own windows
end before its own test days, so no evaluation sees the days it is scored on) and the served ones
on each category's serving windows. Each category then fits only its classical part and freezes
these networks into its own `model.pt`. The weights are saved under `<paths.artifacts>/_shared/<id>/`
and every version's manifest names them (`SharedNetwork`).

The file also holds what a later refit needs to use them alone (`load_shared_networks`, the second
cadence: `salescast train --shared-network latest|<id>` fits only each category's classical part
against them): the run's record, the window size and architecture they were built for, and both loss
curves. Files saved before those were kept cannot be checked against the config and are refused.

The accuracy bench makes a fold's networks the same way (`train_networks_before`): one set on every
category's windows of the days before the fold's cut-off, as a run trains its served set.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from core.atomic import atomic_path
from core.contracts.job_progress import TrainingPhase
from core.contracts.manifest import SharedNetwork
from core.errors import SalescastError
from core.settings import Settings
from training.fitting import train_networks
from training.model import CNNLSTM
from training.windows import CategoryWindows, InsufficientHistoryError, make_category_windows, windows_before

logger = logging.getLogger(__name__)

SHARED_DIR = "_shared"
"""Folder under `paths.artifacts` holding the shared networks' weights (not a category: it holds
no version folder, so nothing lists it as one)."""
WEIGHTS_FILE = "networks.pt"
LATEST = "latest"
"""What `--shared-network` names for the most recently trained shared networks."""


class SharedNetworkError(SalescastError):
    """Saved shared networks that do not exist or do not fit the config (the message names what exists)."""


class LossCurve(Callback):
    """Per-epoch train/val loss of one fit, kept to be replayed into each category's run and plot;
    `on_epoch` hears the curve after each epoch (the job's progress, while the shared fit runs)."""

    def __init__(self, phase: TrainingPhase, on_epoch: Callable[[LossCurve], None] | None = None) -> None:
        self.phase: TrainingPhase = phase
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.on_epoch = on_epoch

    @classmethod
    def saved(cls, phase: TrainingPhase, curve: Mapping[str, Sequence[float]]) -> LossCurve:
        """A curve saved with the networks (`save_networks`), to be replayed by a later refit."""
        loaded = cls(phase)
        loaded.train_loss = [float(value) for value in curve["train_loss"]]
        loaded.val_loss = [float(value) for value in curve["val_loss"]]
        return loaded

    def as_dict(self) -> dict[str, list[float]]:
        return {"train_loss": list(self.train_loss), "val_loss": list(self.val_loss)}

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
        if self.on_epoch is not None:
            self.on_epoch(self)


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
    sales: Mapping[str, pd.Series],
    settings: Settings,
    started: datetime,
    on_epoch: Callable[[LossCurve], None] | None = None,
) -> SharedNetworks | None:
    """Train the run's two sets of networks on every category of `sales` and save them; None when
    the networks do not pool categories (each category then trains its own) or no category has
    enough history. `on_epoch` hears each fit's curve after every epoch of the first network."""
    if not settings.model.pool_categories:
        return None
    evaluation_windows, served_windows = shared_windows(sales, settings)
    if not evaluation_windows:
        return None
    categories = [windows.category for windows in evaluation_windows]
    logger.info("training shared networks categories=%d members=%d", len(categories), settings.model.members)
    evaluation_curve, served_curve = LossCurve("evaluation", on_epoch), LossCurve("serving", on_epoch)
    with tempfile.TemporaryDirectory(prefix="salescast-shared-") as checkpoints:
        evaluation = train_networks(
            evaluation_windows, settings, Path(checkpoints) / "evaluation", callbacks=[evaluation_curve]
        )
        served = train_networks(
            served_windows, settings, Path(checkpoints) / "serving", callbacks=[served_curve]
        )
    evaluation_curve.on_epoch = served_curve.on_epoch = None  # the curves travel to Ray tasks: no listener
    network_id = shared_id([*evaluation, *served], started)
    folder = Path(SHARED_DIR) / network_id
    record = SharedNetwork(
        id=network_id, trained_at=started, categories=categories, weights=folder.as_posix()
    )
    networks = SharedNetworks(evaluation, served, evaluation_curve, served_curve, record)
    save_networks(settings.paths.artifacts / folder / WEIGHTS_FILE, networks, settings)
    logger.info("shared networks saved id=%s path=%s", network_id, settings.paths.artifacts / folder)
    return networks


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


def architecture(settings: Settings) -> dict[str, int]:
    """What saved networks must share with the config to be frozen into its forecasters: the window
    they read and every size of their layers, and how many members there are (dropout and the
    optimizer do not change a trained network)."""
    model = settings.model
    return {
        "window_size": settings.window.size,
        "conv_channels": model.conv_channels,
        "kernel_size": model.kernel_size,
        "conv_stride": model.conv_stride,
        "lstm_hidden": model.lstm_hidden,
        "lstm_layers": model.lstm_layers,
        "members": model.members,
    }


def save_networks(path: Path, networks: SharedNetworks, settings: Settings) -> Path:
    """Both sets' state dicts, the run's record, the architecture they were built with and their loss
    curves in one file, written atomically: what `load_shared_networks` needs to refit alone."""
    payload = {
        "evaluation": [network.state_dict() for network in networks.evaluation],
        "served": [network.state_dict() for network in networks.served],
        "record": networks.record.model_dump(mode="json"),
        "architecture": architecture(settings),
        "curves": {
            "evaluation": networks.evaluation_curve.as_dict(),
            "serving": networks.served_curve.as_dict(),
        },
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def saved_ids(settings: Settings) -> list[str]:
    """Ids of every saved set of shared networks, oldest first (by when their file was written)."""
    root = settings.paths.artifacts / SHARED_DIR
    files = root.glob(f"*/{WEIGHTS_FILE}") if root.is_dir() else iter(())
    return [path.parent.name for path in sorted(files, key=lambda path: (path.stat().st_mtime, path))]


def load_shared_networks(settings: Settings, which: str) -> SharedNetworks:
    """The saved shared networks `which` names (an id, or `latest`: the most recently saved), ready to
    be frozen into forecasters of `settings`; `SharedNetworkError` naming what exists when there is
    none such, it predates the saved architecture, or its window size or architecture is not the
    config's."""
    if not settings.model.pool_categories:
        raise SharedNetworkError(
            "model.pool_categories is off: each category trains its own networks, there are no shared "
            "networks to refit against"
        )
    ids = saved_ids(settings)
    root = settings.paths.artifacts / SHARED_DIR
    if not ids:
        raise SharedNetworkError(
            f"no shared networks are saved under {root}; train them with `salescast train --all` first"
        )
    network_id = ids[-1] if which == LATEST else which
    if network_id not in ids:
        raise SharedNetworkError(f"no shared networks {which!r} under {root}; saved: {', '.join(ids)}")
    path = root / network_id / WEIGHTS_FILE
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as exc:
        raise SharedNetworkError(f"shared networks {network_id} cannot be read ({path}): {exc}") from None
    saved = payload.get("architecture") if isinstance(payload, dict) else None
    if saved is None or "record" not in payload or "curves" not in payload:
        raise SharedNetworkError(
            f"shared networks {network_id} were saved before salescast kept their window size and "
            "architecture, so they cannot be checked against the config; train new ones with "
            "`salescast train --all`"
        )
    wanted = architecture(settings)
    differ = [
        f"{key} {saved.get(key)} (config: {value})"
        for key, value in wanted.items()
        if saved.get(key) != value
    ]
    if differ:
        raise SharedNetworkError(
            f"shared networks {network_id} do not fit the config: {', '.join(differ)}; name other ones "
            f"(saved: {', '.join(ids)}) or train new ones with `salescast train --all`"
        )
    curves = payload["curves"]
    logger.info("shared networks loaded id=%s", network_id)
    return SharedNetworks(
        evaluation=[_network(state, settings) for state in payload["evaluation"]],
        served=[_network(state, settings) for state in payload["served"]],
        evaluation_curve=LossCurve.saved("evaluation", curves["evaluation"]),
        served_curve=LossCurve.saved("serving", curves["serving"]),
        record=SharedNetwork.model_validate(payload["record"]),
    )


def _network(state: Mapping[str, torch.Tensor], settings: Settings) -> CNNLSTM:
    model = settings.model
    network = CNNLSTM(
        settings.window.size,
        conv_channels=model.conv_channels,
        kernel_size=model.kernel_size,
        lstm_hidden=model.lstm_hidden,
        lstm_layers=model.lstm_layers,
        dropout=model.dropout,
        stride=model.conv_stride,
    )
    network.load_state_dict(state)
    return network.eval()
