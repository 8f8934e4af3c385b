"""CNN-LSTM and its LightningModule: shapes, learning, a Lightning smoke run, TorchScript parity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from core.settings import SplitSettings
from handlers.forecast_steps import load_model
from tests.training.synthetic import weekly_series
from training.datamodule import CategoryDataModule
from training.export import export_torchscript
from training.forecaster import LEVEL_FLOOR
from training.lightning_module import ForecastModule
from training.model import CNNLSTM
from training.windows import make_category_windows

TINY: dict[str, Any] = {
    "conv_channels": 8,
    "kernel_size": 3,
    "lstm_hidden": 16,
    "lstm_layers": 1,
    "dropout": 0.0,
    "stride": 1,
}
FIT: dict[str, Any] = {"loss": "mse", "learning_rate": 1e-3, "weight_decay": 0.0}


@pytest.mark.parametrize(("window_size", "kernel_size", "layers"), [(14, 3, 1), (7, 4, 2), (2, 1, 1)])
def test_forward_maps_a_batch_of_windows_to_one_value_each(
    window_size: int, kernel_size: int, layers: int
) -> None:
    model = CNNLSTM(
        window_size,
        conv_channels=4,
        kernel_size=kernel_size,
        lstm_hidden=8,
        lstm_layers=layers,
        dropout=0.0,
        stride=1,
    )
    out = model(torch.randn(5, window_size))
    assert out.shape == (5,)
    assert out.dtype == torch.float32


def test_kernel_wider_than_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        CNNLSTM(5, **{**TINY, "kernel_size": 6})


def test_overfits_one_small_batch() -> None:
    torch.manual_seed(0)
    module = ForecastModule(window_size=14, **{**FIT, "learning_rate": 1e-2}, **TINY)
    x, y = torch.randn(16, 14), 2.0 * torch.randn(16)
    optimizer = module.configure_optimizers()
    with torch.no_grad():
        initial = float(module.loss_fn(module(x), y))
    for _ in range(200):
        optimizer.zero_grad()
        loss = module.loss_fn(module(x), y)
        loss.backward()
        optimizer.step()
    assert initial > 1.0
    assert float(loss.detach()) < 0.05


def test_hyperparameters_are_saved() -> None:
    module = ForecastModule(window_size=14, loss="huber", learning_rate=3e-3, weight_decay=1e-4, **TINY)
    assert module.hparams["window_size"] == 14
    assert module.hparams["lstm_hidden"] == 16
    assert module.hparams["loss"] == "huber"
    assert module.hparams["weight_decay"] == 1e-4
    assert isinstance(module.loss_fn, torch.nn.HuberLoss)


def test_fast_dev_run_smoke(tmp_path: Path) -> None:
    windows = make_category_windows(weekly_series(120), 14, SplitSettings(train=0.7, val=0.15))
    trainer = pl.Trainer(
        fast_dev_run=True,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(
        ForecastModule(window_size=14, **FIT, **TINY), datamodule=CategoryDataModule(windows, 16, seed=1)
    )
    assert trainer.state.finished
    assert "train_loss" in trainer.callback_metrics
    assert "val_loss" in trainer.callback_metrics


def test_datamodule_scales_each_window_by_its_level_and_shuffles_only_training() -> None:
    windows = make_category_windows(weekly_series(120), 14, SplitSettings(train=0.7, val=0.15))
    other = make_category_windows(3 * weekly_series(120), 14, SplitSettings(train=0.7, val=0.15))
    data = CategoryDataModule(windows, batch_size=8, seed=1, others=[other])
    x, y = data.val_pairs.dataset().tensors
    inputs = windows.inputs("val")
    level = np.maximum(inputs.mean(axis=1), LEVEL_FLOOR * windows.stats.mean)
    unit = level * windows.stats.std / windows.stats.mean
    own = len(windows.val)
    torch.testing.assert_close(
        y[:own], torch.tensor((windows.targets("val") - level) / unit, dtype=torch.float32)
    )
    assert x.shape == (own + len(other.val), 14)  # the other category's windows are pooled in
    first_val_batch = next(iter(data.val_dataloader()))[1]
    torch.testing.assert_close(first_val_batch, y[:8])
    train_y = torch.cat([batch[1] for batch in data.train_dataloader()])
    assert sorted(train_y.tolist()) == sorted(data.train_pairs.dataset().tensors[1].tolist())
    assert not torch.equal(train_y, data.train_pairs.dataset().tensors[1])


def test_torchscript_matches_the_lightning_module(tmp_path: Path) -> None:
    torch.manual_seed(3)
    module = ForecastModule(window_size=14, **FIT, **{**TINY, "dropout": 0.2, "lstm_layers": 2}).eval()
    path = tmp_path / "model.pt"
    export_torchscript(module.model, path)
    scripted = load_model(path)
    x = torch.randn(32, 14)
    with torch.inference_mode():
        torch.testing.assert_close(scripted(x), module(x), rtol=0, atol=1e-5)
        assert scripted(x[:1]).shape == (1,)
    assert not list(tmp_path.glob(".*.tmp"))
