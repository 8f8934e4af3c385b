"""An epoch is at most `training.max_batches_per_epoch` batches, a fresh draw each time: a shared fit
over hundreds of categories is checked for progress as often as a small one, and a small one sees
every window each epoch as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from core.settings import Settings
from tests.training.synthetic import weekly_series
from training.fitting import train_networks
from training.windows import make_category_windows


class BatchLog(Callback):
    """The targets of every batch, per epoch."""

    def __init__(self) -> None:
        self.epochs: list[list[torch.Tensor]] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epochs.append([])

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.epochs[-1].append(batch[1].clone())


def epochs_seen(settings: Settings, tmp_path: Path, limit: int | None) -> list[list[torch.Tensor]]:
    windows = make_category_windows(weekly_series(200), settings.window.size, settings.split)
    tuned = settings.with_overrides(
        {
            "model": {"members": 1},
            "training": {
                "batch_size": 8,
                "max_epochs": 3,
                "patience": 10,
                "network_workers": 0,
                "max_batches_per_epoch": limit,
            },
        }
    )
    log = BatchLog()
    train_networks([windows], tuned, tmp_path / f"limit-{limit}", callbacks=[log])
    return log.epochs


def test_an_epoch_is_capped_and_draws_afresh(test_settings: Settings, tmp_path: Path) -> None:
    whole = epochs_seen(test_settings, tmp_path, None)
    capped = epochs_seen(test_settings, tmp_path, 3)
    assert len(whole) == len(capped) == 3
    assert all(len(epoch) > 3 for epoch in whole)  # every window each epoch without a cap
    assert [len(epoch) for epoch in capped] == [3, 3, 3]
    first, second = (torch.cat(epoch) for epoch in capped[:2])
    assert not torch.equal(first, second)  # each epoch a different draw of the windows
    assert torch.equal(torch.cat(capped[0]), torch.cat(whole[0][:3]))  # the same shuffled order


def test_a_cap_above_the_batches_changes_nothing(test_settings: Settings, tmp_path: Path) -> None:
    whole = epochs_seen(test_settings, tmp_path, None)
    roomy = epochs_seen(test_settings, tmp_path, 10_000)
    assert [torch.cat(epoch).tolist() for epoch in whole] == [torch.cat(epoch).tolist() for epoch in roomy]
