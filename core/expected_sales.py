"""What a generated category's days are drawn around: its expected daily sales given the generator's
hidden demand level, the best forecast any model could make in squared error on average.

The sample generators (`core.sample_data`, `core.retailer_sample`, `core.multiyear_sample`) draw each
day's transactions around `steady × exp(level) + extra`: `steady` the deterministic part (base, trend,
weekday, season, holidays, level shifts, closures, outages), `level` a slow AR(1) log demand level
(none on the retailer), `extra` what arrives on top of it (the large orders' expected amount). Known
`horizon` days ahead, the level is `persistence^horizon ×` its value then, plus noise whose log-normal
mean the expectation adds. The accuracy bench scores that expectation on a generated profile's target
days (its `optimum` column): how far below the classical references the data let anything go.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ExpectedSales:
    """One category's expected daily sales (sales units) of every generated day, by what is known."""

    steady: FloatArray
    """Expected sales of each day with the hidden log level at 0."""
    level: FloatArray
    """The hidden AR(1) log demand level of each day (zeros where the generator has none)."""
    persistence: float = 0.0
    innovation_sd: float = 0.0
    extra: FloatArray | None = None
    """Expected sales of each day beyond the level's share (large orders), if any."""

    def at(self, horizon: int) -> FloatArray:
        """Each day's expected sales known `horizon` (≥ 1) days before it: the hidden level of the day
        `horizon` before (0 before the first day) carried forward, everything else as generated."""
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        decay = self.persistence**horizon
        if self.persistence < 1.0:
            variance = self.innovation_sd**2 * (1.0 - decay**2) / (1.0 - self.persistence**2)
        else:
            variance = self.innovation_sd**2 * horizon
        known = np.concatenate([np.zeros(horizon), self.level[:-horizon]])[: len(self.level)]
        expected = self.steady * np.exp(decay * known + variance / 2.0)
        return np.asarray(expected if self.extra is None else expected + self.extra, dtype=np.float64)
