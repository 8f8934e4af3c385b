"""Make one category's forecaster: the weekly-profile forecast fitted in closed form, the CNN-LSTM
networks fitted with Lightning (early-stopped, several seeds), blended in one `WindowForecaster`.

The one place a model is made: the training pipeline (its evaluation and served fits) and the
rolling-origin bench both call `fit_forecaster`, and when the networks pool categories both freeze in
networks trained once for every category by `training.shared` (a run's sets, a bench fold's set), so
what the bench scores is made exactly the way a served version is.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from core.settings import Settings
from training import network_pool
from training.classical import fit_classical, fit_weekly_profile_es, is_long_run_mean
from training.datamodule import CategoryDataModule
from training.forecaster import WindowForecaster
from training.lightning_module import ForecastModule
from training.model import CNNLSTM, WEEK
from training.windows import CategoryWindows


def fit_forecaster(
    windows: CategoryWindows,
    settings: Settings,
    checkpoints_dir: Path,
    *,
    others: Sequence[CategoryWindows] = (),
    callbacks: Sequence[Callback] = (),
    networks: Sequence[CNNLSTM] | None = None,
) -> WindowForecaster:
    """The forecaster of `windows`: normalized window in, next day out in the same units
    (TorchScript-able; what `model.pt` holds; run it with `training.forecaster.as_forecaster` and its
    `normalization()`). The networks also learn from `others` (the other categories' windows before
    the same day) when the model pools categories; `callbacks` follow the first network's epochs.
    Given `networks` (trained once for many categories, `training.shared`), none is trained here:
    only the classical part is fitted and the networks are frozen in as they are.
    Its classical part is `training.classical.fit_classical`'s choice (weekly profile, long-run mean,
    or where switched on and clearly better, TSB on intermittent days or Theta). Its forecasts are
    never negative when the training days never were. Where the training windows hold no signal
    that clearly beats the long-run mean, the networks reading them get the smaller share
    `model.classical_weight_without_signal` leaves them."""
    model = settings.model
    classical = fit_classical(
        windows.training_days, windows.train, windows.window_size, model, windows.train_start.weekday()
    )
    if networks is None:
        pooled = list(others) if model.pool_categories else []
        networks = train_networks([windows, *pooled], settings, checkpoints_dir, callbacks=callbacks)
    non_negative = bool(np.all(windows.training_days >= 0))
    stats = windows.stats
    weight = model.classical_weight_without_signal if is_long_run_mean(classical) else model.classical_weight
    return WindowForecaster(list(networks), classical, weight, stats.mean, stats.std, non_negative).eval()


def fit_classical_only(windows: CategoryWindows, settings: Settings) -> WindowForecaster:
    """The forecaster of a history too short for the networks (`windows.short_history`): no network,
    the classical part alone (weight 1), in the same `WindowForecaster` interface and window size.

    Its level is fitted on the days since the first sale only (the zeros before it are left out, at
    training as at serving: `WeeklyProfileES.since_first_sale`); a weekday profile is tried only
    when the training days hold `training.short_history_profile_weeks` whole weeks, else it is flat.
    """
    model = settings.model
    enough_weeks = len(windows.training_days) >= settings.training.short_history_profile_weeks * WEEK
    classical = fit_weekly_profile_es(
        windows.values[: int(windows.train[-1]) + 1],
        windows.train,
        windows.window_size,
        alphas=model.profile_alphas,
        shrinks=model.profile_shrinks if enough_weeks else (0.0,),
        anchor_weights=model.profile_anchor_weights,
        first_day=windows.first_day,
        anchor_days=model.profile_anchor_days,
        first_weekday=windows.train_start.weekday(),
    )
    non_negative = bool(np.all(windows.training_days >= 0))
    stats = windows.stats
    return WindowForecaster([], classical, 1.0, stats.mean, stats.std, non_negative).eval()


def train_networks(
    windows: Sequence[CategoryWindows],
    settings: Settings,
    checkpoints_dir: Path,
    *,
    callbacks: Sequence[Callback] = (),
) -> list[CNNLSTM]:
    """`model.members` networks (seeds apart) learning from the train/val windows of every one of
    `windows` (the first is the primary: its order is the data module's), in eval mode; `callbacks`
    follow the first network's epochs, the others train in worker processes beside it."""
    primary, *others = windows
    members = [
        (
            primary,
            settings.with_overrides({"training": {"seed": settings.training.seed * 1000 + member}}),
            checkpoints_dir / f"member-{member}",
            others,
        )
        for member in range(settings.model.members)
    ]
    workers = network_pool.worker_count(settings.training.network_workers, settings.model.members)
    # the other networks train in worker processes while the first trains here, with the callbacks
    elsewhere = (
        [network_pool.submit(workers, train_network, *member) for member in members[1:]] if workers else []
    )
    try:
        first = load_network(train_network(*members[0], callbacks=callbacks))
        if elsewhere:
            rest = [load_network(future.result()) for future in elsewhere]
        else:
            rest = [load_network(train_network(*member)) for member in members[1:]]
    except BaseException:
        for future in elsewhere:
            future.cancel()
        raise
    return [network.model for network in (first, *rest)]


def fit_category(
    windows: CategoryWindows,
    settings: Settings,
    checkpoints_dir: Path,
    *,
    others: Sequence[CategoryWindows] = (),
    callbacks: Sequence[Callback] = (),
) -> ForecastModule:
    """Seeded, quiet, CPU fit of one network on the scaled `train` windows of `windows` and `others`,
    early-stopped on their `val` windows; the best-`val_loss` checkpoint in eval mode (see
    `train_network`)."""
    return load_network(train_network(windows, settings, checkpoints_dir, others, callbacks=callbacks))


def train_network(
    windows: CategoryWindows,
    settings: Settings,
    checkpoints_dir: Path,
    others: Sequence[CategoryWindows] = (),
    *,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Fit one network and return its best-`val_loss` checkpoint (a path, so a worker process can
    hand it back cheaply).

    `checkpoints_dir` is owned by the caller (it must outlive the checkpoint's use); `callbacks` run
    after early stopping and checkpointing (e.g. per-epoch loss logging). Torch's thread count and
    deterministic switch are restored afterwards.
    """
    training = settings.training
    pl.seed_everything(training.seed, workers=True, verbose=False)
    module = ForecastModule(
        window_size=windows.window_size,
        conv_channels=settings.model.conv_channels,
        kernel_size=settings.model.kernel_size,
        lstm_hidden=settings.model.lstm_hidden,
        lstm_layers=settings.model.lstm_layers,
        dropout=settings.model.dropout,
        stride=settings.model.conv_stride,
        loss=settings.model.loss,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
    )
    best_checkpoint = ModelCheckpoint(
        dirpath=checkpoints_dir, filename="best", monitor="val_loss", mode="min"
    )
    with quiet_lightning(), torch_threads(training.num_threads):
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=1,
            max_epochs=training.max_epochs,
            limit_train_batches=training.max_batches_per_epoch or 1.0,
            callbacks=[
                EarlyStopping(monitor="val_loss", mode="min", patience=training.patience),
                best_checkpoint,
                *callbacks,
            ],
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            deterministic=True,
            default_root_dir=checkpoints_dir,
        )
        trainer.fit(
            module, datamodule=CategoryDataModule(windows, training.batch_size, training.seed, others)
        )
    return Path(best_checkpoint.best_model_path)


def load_network(checkpoint: Path) -> ForecastModule:
    """The network saved at `checkpoint`, in eval mode."""
    return ForecastModule.load_from_checkpoint(checkpoint, map_location="cpu").eval()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on `count` intra-op threads; afterwards restore the thread count and the
    deterministic-algorithms switch (which `Trainer(deterministic=True)` turns on process-wide)."""
    previous = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banner lines and hints meant for GPU/multi-worker setups."""
    lightning_logger = logging.getLogger("lightning.pytorch")
    level = lightning_logger.level
    lightning_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=r".*number of training batches.*")
            warnings.filterwarnings("ignore", message=r".*treespec.*")
            yield
    finally:
        lightning_logger.setLevel(level)
