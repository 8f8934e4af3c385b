"""How far blending the model with the statistical references could go at most, on one report's days.

Before freezing an ensemble of classical models into every `model.pt` (issue: "a stronger classical
part"), the bench can say what it could buy. The model's forecasts are blended with AutoETS's,
AutoARIMA's or their mean — the bench's full-history forecasts, stronger than anything rebuilt from a
served window — and the model's share is chosen on the very days it is scored on: once for the whole
file, and once per category. No validation tail can choose better than that, so each ratio is an upper
bound on what such an ensemble gives; where even it stays above a target, building it cannot reach it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from salescast.bench.statistical import STATISTICAL_METHODS
from training.windows import FloatArray


class ScoredCategory(Protocol):
    """What the headroom reads of a category's accuracy (`salescast.bench.accuracy.CategoryAccuracy`),
    each by horizon: the target days' sales, each reference's forecasts and the model's, one per seed."""

    @property
    def actual(self) -> dict[int, FloatArray]: ...

    @property
    def references(self) -> dict[int, dict[str, FloatArray]]: ...

    @property
    def model(self) -> dict[int, list[FloatArray]]: ...


SHARES = tuple(float(share) for share in np.linspace(0.0, 1.0, 21))
"""The model's shares tried (steps of 0.05; 1 is the model alone, 0 the partner alone)."""
PARTNERS: Mapping[str, tuple[str, ...]] = {
    **{name: (name,) for name in STATISTICAL_METHODS},
    " + ".join(STATISTICAL_METHODS): STATISTICAL_METHODS,
}
"""What the model is blended with: each statistical reference alone, and their mean."""


@dataclass(frozen=True)
class Headroom:
    """The model blended with `partner`: the best share of the model for the whole file, and model /
    best reference (RMSE, mean over categories; mean over seeds) with it and with each category's own
    best share."""

    partner: str
    model_share: float
    model_to_best: float
    per_category_model_to_best: float

    def as_dict(self) -> dict[str, float]:
        return {
            "model_share": self.model_share,
            "model_to_best": self.model_to_best,
            "per_category_model_to_best": self.per_category_model_to_best,
        }


def blend_headroom(categories: Sequence[ScoredCategory], horizon: int, bar: float) -> list[Headroom]:
    """Each partner's headroom `horizon` days ahead; `bar`: the best reference's overall RMSE. A partner
    some category lacks (no statsforecast, a fold that failed) is left out."""
    found = []
    for partner, names in PARTNERS.items():
        if bar <= 0 or not all(name in c.references[horizon] for c in categories for name in names):
            continue
        # [category, seed, share]: each blend's RMSE
        errors = np.array([_blend_rmse(category, horizon, names) for category in categories])
        file_wide = errors.mean(axis=0).mean(axis=0)  # mean over categories, then seeds, per share
        best = int(np.argmin(file_wide))
        per_category = errors.min(axis=2).mean(axis=0).mean()
        found.append(Headroom(partner, SHARES[best], float(file_wide[best] / bar), float(per_category / bar)))
    return found


def _blend_rmse(category: ScoredCategory, horizon: int, names: Sequence[str]) -> list[list[float]]:
    """[seed, share]: the RMSE of share × the model + the rest × the mean of `names`' forecasts."""
    actual = category.actual[horizon]
    partner = np.mean([category.references[horizon][name] for name in names], axis=0)
    shares = np.asarray(SHARES)[:, None]
    return [
        np.sqrt(np.mean((shares * model + (1 - shares) * partner - actual) ** 2, axis=1)).tolist()
        for model in category.model[horizon]
    ]
