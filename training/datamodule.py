"""A LightningDataModule serving scaled training and validation windows (a category's own, and the
other categories' when they are pooled).

Windows come scaled as the handler scales a served request (`training.forecaster.scale_windows`, the
manifest's `window_level` normalization: each window by its own level, each category by its own training
days' spread), so the networks learn in the units they will see. Only the training loader shuffles;
its order comes from a generator seeded with `seed`, so runs repeat exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from training.forecaster import scale_windows
from training.windows import CategoryWindows, FloatArray


@dataclass(frozen=True)
class ScaledPairs:
    """Scaled inputs `[W, N]` and next days `[W]`, float32."""

    inputs: FloatArray
    targets: FloatArray

    @classmethod
    def of(cls, windows: Sequence[CategoryWindows], segment: str) -> ScaledPairs:
        """`segment`'s windows of every category, each scaled with its own training stats."""
        parts = [
            scale_windows(w.inputs(segment), w.targets(segment), w.stats.mean, w.stats.std) for w in windows
        ]
        return cls(
            np.concatenate([x for x, _ in parts]).astype(np.float32),
            np.concatenate([y for _, y in parts]).astype(np.float32),
        )

    def dataset(self) -> TensorDataset:
        return TensorDataset(torch.from_numpy(self.inputs), torch.from_numpy(self.targets))


class CategoryDataModule(pl.LightningDataModule):
    """Train/val loaders of one category's windows plus the pooled ones of `others`."""

    def __init__(
        self, windows: CategoryWindows, batch_size: int, seed: int, others: Sequence[CategoryWindows] = ()
    ) -> None:
        super().__init__()
        self.train_pairs = ScaledPairs.of([windows, *others], "train")
        self.val_pairs = ScaledPairs.of([windows, *others], "val")
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_pairs.dataset(), batch_size=self.batch_size, shuffle=True, generator=generator
        )

    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return DataLoader(self.val_pairs.dataset(), batch_size=self.batch_size, shuffle=False)
