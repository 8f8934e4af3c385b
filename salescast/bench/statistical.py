"""Statistical references from Nixtla's statsforecast (the optional `bench` extra): AutoETS and
AutoARIMA with a weekly season, fitted once per fold on the days before the cut-off and then run
from every origin of the fold with fixed parameters and the true history before the origin
(`forward(y[:origin], h)`), which matches how the CNN-LSTM and the naive baselines are scored."""

from __future__ import annotations

import os

import numpy as np

from core.errors import SalescastError
from training.windows import FloatArray, IndexArray

STATISTICAL_METHODS = ("auto_ets", "auto_arima")


class MissingBenchExtraError(SalescastError):
    """statsforecast is not installed."""


def statistical_paths(
    values: FloatArray, cutoff: int, origins: IndexArray, horizon: int, season_length: int
) -> dict[str, FloatArray]:
    """`[len(origins), horizon]` AutoETS and AutoARIMA forecasts from each origin (the first unknown
    day), fitted once on `values[:cutoff]`; every origin must be at or after the cut-off."""
    os.environ.setdefault("NIXTLA_ID_AS_COL", "1")
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError as exc:
        raise MissingBenchExtraError(
            "the statistical references need statsforecast: pip install -e '.[bench]'"
        ) from exc
    if int(origins[0]) < cutoff:
        raise ValueError("origins must not come before the cut-off (the models learned those days)")
    paths: dict[str, FloatArray] = {}
    for name, model in (
        ("auto_ets", AutoETS(season_length=season_length)),
        ("auto_arima", AutoARIMA(season_length=season_length)),
    ):
        fitted = model.fit(np.asarray(values[:cutoff], dtype=np.float64))
        paths[name] = np.stack(
            [
                np.asarray(fitted.forward(y=np.asarray(values[:origin], dtype=np.float64), h=horizon)["mean"])
                for origin in origins
            ]
        ).astype(np.float64)
    return paths
