"""Each fit's per-epoch losses: kept for the loss plot, sent to MLflow and heard by the job's progress
listener (`core.contracts.job_progress`), whether the epochs ran here or were replayed from the run's
shared networks.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import NamedTuple

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from core.contracts.job_progress import CategoryProgress, TrainingPhase
from core.settings import Settings
from training.recorded_run import RunLog
from training.shared import LossCurve

logger = logging.getLogger(__name__)

Listener = Callable[[CategoryProgress], None]
"""Hears every category's start, each epoch of both fits with its losses, and its end (the job's
progress file, `core.contracts.job_progress`); the shared fit's epochs come once, as `EVERY_TRAINING`."""


def ignore_progress(event: CategoryProgress) -> None:
    """The default listener."""


class Histories(NamedTuple):
    """The per-epoch losses of a category's two fits."""

    evaluation: LossHistory
    served: LossHistory

    @classmethod
    def start(
        cls, run: RunLog, category: str, version: str, settings: Settings, listener: Listener
    ) -> Histories:
        epochs = settings.training.max_epochs
        return cls(
            LossHistory(run, category, version, epochs, listener, "evaluation"),
            LossHistory(run, category, version, epochs, listener, "serving"),
        )


class LossHistory(Callback):
    """Per-epoch train/val loss: kept for the plot, sent to MLflow, logged as one progress line."""

    def __init__(
        self,
        run: RunLog,
        category: str,
        version: str,
        max_epochs: int,
        listener: Listener = ignore_progress,
        phase: TrainingPhase = "serving",
    ) -> None:
        self.run = run
        self.category = category
        self.version = version
        self.max_epochs = max_epochs
        self.listener = listener
        self.phase = phase
        self.prefix = "" if phase == "evaluation" else "served_"
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        train_loss = float(metrics["train_loss"])
        val_loss = float(metrics["val_loss"]) if "val_loss" in metrics else math.nan
        self.run.log_metrics(
            {f"{self.prefix}train_loss": train_loss, f"{self.prefix}val_loss": val_loss},
            step=trainer.current_epoch + 1,
        )
        self._record(train_loss, val_loss)

    def replay(self, curve: LossCurve) -> None:
        """Take the epochs of a fit made elsewhere (the shared networks') as this fit's: one MLflow
        batch for all of them, the progress lines as if they had run here, and one event with the
        whole curve (a job's progress file is rewritten per event: 59 events for each of 300
        categories cost minutes)."""
        self.run.log_metric_history(
            {f"{self.prefix}train_loss": curve.train_loss, f"{self.prefix}val_loss": curve.val_loss}
        )
        for train_loss, val_loss in zip(curve.train_loss, curve.val_loss, strict=True):
            self._record(train_loss, val_loss, tell=False)
        if self.train_loss:
            self._tell(whole=True)

    def _record(self, train_loss: float, val_loss: float, *, tell: bool = True) -> None:
        self.train_loss.append(train_loss)
        self.val_loss.append(val_loss)
        epoch = len(self.train_loss)
        logger.info(
            "epoch category=%s version=%s phase=%s epoch=%d/%d train_loss=%.4f val_loss=%.4f",
            self.category,
            self.version,
            self.phase,
            epoch,
            self.max_epochs,
            train_loss,
            val_loss,
        )
        if tell:
            self._tell(whole=False)

    def _tell(self, *, whole: bool) -> None:
        """The listener hears the last epoch; with `whole`, every epoch's losses too."""
        val_losses = [value if math.isfinite(value) else None for value in self.val_loss]
        self.listener(
            CategoryProgress(
                category=self.category,
                state="training",
                version=self.version,
                phase=self.phase,
                epoch=len(self.train_loss),
                max_epochs=self.max_epochs,
                train_loss=self.train_loss[-1],
                val_loss=val_losses[-1],
                train_losses=list(self.train_loss) if whole else [],
                val_losses=val_losses if whole else [],
            )
        )
