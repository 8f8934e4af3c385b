"""Kupiec's proportion-of-failures test: is an interval's coverage compatible with its level?

Over n target days an interval at level L should miss about (1 − L)·n of them. A coverage of 78 %
over 140 days is fine for an 80 % interval; 70 % is not. The likelihood ratio of the observed miss
rate against the nominal one is χ²(1) under the null (Kupiec 1995); a p-value below 5 % rejects the
interval's calibration for that category. Issue 23 asks that no category's coverage be rejected.
"""

from __future__ import annotations

import math

REJECT_BELOW = 0.05


def kupiec_pvalue(hits: int, days: int, level: float) -> float:
    """p-value of `hits` of `days` inside an interval at `level` (0-1), two-sided by construction."""
    if days <= 0 or not 0.0 < level < 1.0:
        raise ValueError(f"need days > 0 and 0 < level < 1, got days={days}, level={level}")
    hits = min(max(hits, 0), days)
    misses = days - hits
    nominal = 1.0 - level
    observed = misses / days

    def log_likelihood(rate: float) -> float:
        return _xlogy(misses, rate) + _xlogy(hits, 1.0 - rate)

    ratio = -2.0 * (log_likelihood(nominal) - log_likelihood(observed))
    return math.erfc(math.sqrt(max(ratio, 0.0) / 2.0))  # χ²(1) survival function


def _xlogy(count: int, rate: float) -> float:
    """count · log(rate), with 0 · log(0) = 0 (no misses, or no hits)."""
    return 0.0 if count == 0 else count * math.log(rate)
