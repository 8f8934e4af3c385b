"""The metrics file, `metrics.json`: how a version scored on its held-out test days.

Written by training beside `model.pt` and packed into the `.mar`; the handler shows its `test` part
in TorchServe's describe answer, the deploy policy decides on it and jobs report it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.contracts.files import read_contract, write_contract

METRICS_FILE = "metrics.json"


class ForecastScores(BaseModel):
    """One forecaster's errors on the test days, in sales units (sMAPE and WAPE in percent). MASE and
    RMSSE are undefined (null) when the in-sample seasonal-naive error is 0; versions trained before
    bias and WAPE were recorded lack them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    mae: float | None = None
    rmse: float | None = None
    smape: float | None = None
    mase: float | None = None
    rmsse: float | None = None
    bias: float | None = None
    """Mean of forecast − actual (above 0: the forecast runs high)."""
    wape: float | None = None
    """Total absolute error / total sales, in percent (null when nothing sold)."""


class Backtest(BaseModel):
    """Every forecaster's one-step forecasts on the held-out test days, next to what happened."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    dates: list[date]
    actual: list[float]
    forecasts: dict[str, list[float]]


class VersionMetrics(BaseModel):
    """Test metrics of the model and every baseline on the same target days.

    `test` maps forecaster → scores: `model`, each baseline, and `served` when the version served at
    training time was scored on the same days (`served_version`); `served_error` says why it could
    not be scored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: str
    version: str
    window_size: int = Field(ge=1)
    n_test: int = Field(ge=1)
    test_start: date
    test_end: date
    test: dict[str, ForecastScores]
    served_version: str | None = None
    served_error: str | None = None
    coverage: dict[str, float] = Field(
        default_factory=dict, description="level → share of test days inside the interval (percent)"
    )
    backtest: Backtest | None = None

    def rmse(self, forecaster: str) -> float | None:
        """RMSE of one forecaster, None when it was not scored."""
        scores = self.test.get(forecaster)
        return scores.rmse if scores is not None else None


def write_metrics(folder: Path, metrics: VersionMetrics) -> Path:
    """Write `folder/metrics.json` atomically."""
    return write_contract(folder / METRICS_FILE, metrics)


def read_metrics(folder: Path) -> VersionMetrics:
    """`folder/metrics.json` as `VersionMetrics`; `ContractError` naming the file and the fields."""
    return read_contract(VersionMetrics, folder / METRICS_FILE)
