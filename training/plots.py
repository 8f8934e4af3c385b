"""The two PNGs saved with every version: loss per epoch and the test-segment forecast.

Drawn on a `Figure` with the Agg canvas directly, so no GUI backend or global pyplot state is
touched (training may run inside a server process).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from training.windows import FloatArray

_SIZE = (9.0, 4.0)
_DPI = 100


Losses = tuple[Sequence[float], Sequence[float]]
"""(train, validation) loss per epoch of one fit."""


def plot_loss(fits: Mapping[str, Losses], path: Path, title: str) -> None:
    """Training and validation loss (normalized units) per epoch of each fit, one panel each; the
    dotted line marks the epoch kept."""
    figure = Figure(figsize=(_SIZE[0], _SIZE[1] * max(1, len(fits)) * 0.8), dpi=_DPI)
    for index, (name, (train_loss, val_loss)) in enumerate(fits.items(), start=1):
        axes = figure.add_subplot(len(fits), 1, index)
        axes.plot(range(1, len(train_loss) + 1), train_loss, marker="o", markersize=3, label="train")
        axes.plot(range(1, len(val_loss) + 1), val_loss, marker="o", markersize=3, label="validation")
        if val_loss:
            best = min(range(len(val_loss)), key=lambda i: val_loss[i]) + 1
            axes.axvline(best, color="grey", linestyle=":", label=f"kept (epoch {best})")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("loss (normalized)")
        axes.set_title(f"{title} · {name}", fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    axes.set_xlabel("epoch")
    _save(figure, path)


def plot_forecast(
    dates: pd.DatetimeIndex,
    actual: FloatArray,
    predicted: FloatArray,
    seasonal_naive: FloatArray,
    path: Path,
    title: str,
) -> None:
    """Test segment: actual daily sales vs the model's and the seasonal-naive one-step forecasts."""
    figure = Figure(figsize=_SIZE, dpi=_DPI)
    axes = figure.add_subplot()
    x = dates.to_pydatetime()
    axes.plot(x, actual, color="black", linewidth=1.2, label="actual")
    axes.plot(x, predicted, color="tab:blue", linewidth=1.2, label="model")
    axes.plot(x, seasonal_naive, color="tab:orange", linewidth=1.0, linestyle="--", label="seasonal naive")
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes.set_xlabel("date")
    axes.set_ylabel("daily sales")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    _save(figure, path)


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, format="png")
