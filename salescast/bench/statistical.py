"""Statistical references from Nixtla's statsforecast (the optional `bench` extra): AutoETS and
AutoARIMA with a weekly season, fitted once per fold on the days before the cut-off and then run
one step ahead over the fold with the true history (`forward(..., fitted=True)`: parameters fixed,
state updated day by day), which matches how the CNN-LSTM and the naive baselines are scored."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from core.errors import SalescastError
from training.windows import FloatArray, IndexArray

StatisticalForecast = Callable[[FloatArray, int, IndexArray], FloatArray]
STATISTICAL_METHODS = ("auto_ets", "auto_arima")


class MissingBenchExtraError(SalescastError):
    """statsforecast is not installed."""


def statistical_forecasts(
    values: FloatArray, cutoff: int, targets: IndexArray, season_length: int
) -> dict[str, FloatArray]:
    """One-step-ahead AutoETS and AutoARIMA forecasts of `values[targets]`, fitted on `values[:cutoff]`."""
    os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError as exc:
        raise MissingBenchExtraError(
            "the statistical references need statsforecast: pip install -e '.[bench]'"
        ) from exc
    if int(targets[0]) != cutoff or int(targets[-1]) >= len(values):
        raise ValueError("targets must start at the cut-off and lie within the series")
    end = int(targets[-1]) + 1
    forecasts: dict[str, FloatArray] = {}
    for name, model in (
        ("auto_ets", AutoETS(season_length=season_length)),
        ("auto_arima", AutoARIMA(season_length=season_length)),
    ):
        fitted = model.fit(np.asarray(values[:cutoff], dtype=np.float64))
        result = fitted.forward(y=np.asarray(values[:end], dtype=np.float64), h=1, fitted=True)
        forecasts[name] = np.asarray(result["fitted"][targets], dtype=np.float64)
    return forecasts
