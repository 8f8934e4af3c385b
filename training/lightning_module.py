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
        loss: LossName = "huber",
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        stride: int = 1,
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

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.model(x)
        return out

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train_loss")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val_loss")

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)

    def _step(self, batch: tuple[Tensor, Tensor], name: str) -> Tensor:
        x, y = batch
        loss: Tensor = self.loss_fn(self(x), y)
        self.log(name, loss, on_step=False, on_epoch=True, batch_size=len(x))
        return loss
