"""A thin LightningModule around `CNNLSTM`: the loss, the optimizer and what gets logged."""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from training.model import CNNLSTM

LossName = Literal["mse", "huber"]


class ForecastModule(pl.LightningModule):
    """Trains a `CNNLSTM` on scaled windows; every constructor argument is saved in checkpoints.

    Logs `train_loss` and `val_loss` per epoch (the early-stopping and checkpoint monitor).
    """

    def __init__(
        self,
        window_size: int,
        conv_channels: int,
        kernel_size: int,
        lstm_hidden: int,
        lstm_layers: int,
        dropout: float,
        loss: LossName,
        learning_rate: float,
        weight_decay: float,
        stride: int,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = CNNLSTM(
            window_size=window_size,
            conv_channels=conv_channels,
            kernel_size=kernel_size,
            lstm_hidden=lstm_hidden,
            lstm_layers=lstm_layers,
            dropout=dropout,
            stride=stride,
        )
        self.loss_fn: nn.Module = nn.HuberLoss() if loss == "huber" else nn.MSELoss()
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.totals: dict[str, tuple[Tensor, int]] = {}

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.model(x)
        return out

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train_loss")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val_loss")

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)

    def on_train_epoch_start(self) -> None:
        self.totals = {}

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's mean training and validation losses, once: logged per batch, Lightning's
        bookkeeping cost a sixth of a fit. Validation ends each training epoch, so both are complete."""
        for name, (total, count) in self.totals.items():
            self.log(name, total / torch.tensor(count))

    def _step(self, batch: tuple[Tensor, Tensor], name: str) -> Tensor:
        x, y = batch
        loss: Tensor = self.loss_fn(self(x), y)
        # summed as Lightning's mean reduction sums (float32, weighted by batch size): same numbers
        total, count = self.totals.get(name, (torch.tensor(0.0), 0))
        self.totals[name] = (total + loss.detach() * len(x), count + len(x))
        return loss
