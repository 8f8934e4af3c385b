"""How good an interval or a quantile forecast was, in sales units (lower is better).

Coverage alone rewards an interval that is wide enough; these also charge for its width, so a bench or
a choice between intervals can prefer the narrower of two honest ones.
"""

from __future__ import annotations

import numpy as np

from training.windows import FloatArray


def interval_score(actual: FloatArray, lower: FloatArray, upper: FloatArray, level: float) -> FloatArray:
    """Winkler's interval score per day: width plus 2/α times how far the actual fell outside."""
    alpha = 1.0 - level
    below = np.maximum(lower - actual, 0.0)
    above = np.maximum(actual - upper, 0.0)
    return np.asarray((upper - lower) + (2.0 / alpha) * (below + above), dtype=np.float64)


def pinball_loss(actual: FloatArray, quantile: FloatArray, tau: float) -> float:
    """Mean quantile (pinball) loss of `quantile` as the τ-quantile of `actual`: misses on the side
    the quantile should rarely be passed cost more."""
    miss = actual - quantile
    return float(np.mean(np.maximum(tau * miss, (tau - 1.0) * miss)))
