"""Where a forecaster's error is, by kind of target day: public holidays, the Nov–Dec season, the rest.

A window of recent sales cannot know a holiday or the Christmas run-up is coming; splitting the bench's
error by those days shows how much of it is there, which is what calendar terms have to win back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.multiyear_sample import public_holidays
from training.windows import FloatArray

SEASON_MONTHS = (11, 12)
"""The peak season of store sales (November–December)."""


def day_kinds(dates: pd.DatetimeIndex, country: str) -> dict[str, np.ndarray]:
    """Boolean masks over `dates`: `holidays` (the country's public holidays), `nov_dec` (the season
    without its holidays) and `rest`."""
    holiday = (
        np.asarray(dates.isin(public_holidays(country, dates)), dtype=bool)
        if len(dates)
        else np.zeros(0, bool)
    )
    season = np.asarray(dates.month.isin(SEASON_MONTHS), dtype=bool) & ~holiday
    return {"holidays": holiday, "nov_dec": season, "rest": ~holiday & ~season}


def segment_scores(
    actual: FloatArray, model: list[FloatArray], reference: FloatArray, mask: np.ndarray
) -> dict[str, float]:
    """On the days of `mask`: their number, the model's RMSE (mean over seeds) over the reference's,
    and the model's bias in percent of the mean actual (NaN where nothing sold)."""
    days = actual[mask]
    model_rmse = float(np.mean([np.sqrt(np.mean((seed[mask] - days) ** 2)) for seed in model]))
    reference_rmse = float(np.sqrt(np.mean((reference[mask] - days) ** 2)))
    bias = float(np.mean([np.mean(seed[mask] - days) for seed in model]))
    level = float(np.mean(days))
    return {
        "days": int(mask.sum()),
        "model_to_reference": model_rmse / reference_rmse if reference_rmse > 0 else float("nan"),
        "bias_percent": 100.0 * bias / level if level > 0 else float("nan"),
    }
