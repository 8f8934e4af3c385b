"""A hand-made accuracy report's category: known errors around known sales, for tests of the
report's arithmetic (blend headroom, the optimum column) without training anything."""

from __future__ import annotations

import numpy as np
import pandas as pd

from salescast.bench.accuracy import KNOWN_LEVEL, CategoryAccuracy

DAYS = 400


def made_up_category(name: str, model_noise: float, partner_noise: float, seed: int) -> CategoryAccuracy:
    """Actual sales and, per horizon, a model (two seeds) and AutoETS/AutoARIMA off them by independent
    normal errors of the given sizes."""
    rng = np.random.default_rng(seed)
    actual = 100.0 + rng.normal(0.0, 10.0, DAYS)
    dates = pd.date_range("2024-01-01", periods=DAYS)
    references = {
        "seasonal_naive": actual + rng.normal(0.0, 3.0 * partner_noise, DAYS),
        "ma14": actual + rng.normal(0.0, 3.0 * partner_noise, DAYS),
        "auto_ets": actual + rng.normal(0.0, partner_noise, DAYS),
        "auto_arima": actual + rng.normal(0.0, partner_noise, DAYS),
        KNOWN_LEVEL: actual + rng.normal(0.0, partner_noise, DAYS),
    }
    model = [actual + rng.normal(0.0, model_noise, DAYS) for _ in range(2)]
    return CategoryAccuracy(
        category=name,
        dates=dict.fromkeys((1, 7), dates),
        actual=dict.fromkeys((1, 7), actual),
        insample=actual,
        cutoffs=["2024-01-01"],
        references=dict.fromkeys((1, 7), references),
        model=dict.fromkeys((1, 7), model),
        coverage={h: [{"80": 80.0, "95": 95.0}] * 2 for h in (1, 7)},
        interval_scores={
            h: [{"pinball": 1.0, "total_coverage_80": 80.0, "total_coverage_95": 95.0}] * 2 for h in (1, 7)
        },
    )
