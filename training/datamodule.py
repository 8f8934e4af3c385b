"""A LightningDataModule serving one category's normalized windows, segment by segment."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from training.windows import CategoryWindows


class CategoryDataModule(pl.LightningDataModule):
    """Train/val/test loaders of one category; only the training loader shuffles, within its segment.

    Inputs and targets are normalized with the training segment's stats (`windows.stats`); the
    shuffle order comes from a generator seeded with `seed`, so runs repeat exactly.
    """

    def __init__(self, windows: CategoryWindows, batch_size: int, seed: int) -> None:
        super().__init__()
        self.windows = windows
        self.batch_size = batch_size
        self.seed = seed

    def dataset(self, segment: str) -> TensorDataset:
        """Normalized `(x [W, N], y [W])` float32 tensors of `segment`."""
        stats = self.windows.stats
        x = stats.normalize(self.windows.inputs(segment)).astype(np.float32)
        y = stats.normalize(self.windows.targets(segment)).astype(np.float32)
        return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.dataset("train"), batch_size=self.batch_size, shuffle=True, generator=generator
        )

    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return DataLoader(self.dataset("val"), batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return DataLoader(self.dataset("test"), batch_size=self.batch_size, shuffle=False)
