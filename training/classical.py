"""Fit the classical part of a forecaster in closed form: `WeeklyProfileES` from the training days.

The weekly profile is each weekday's share of the centred 7-day moving average (a ratio of sums
over the training days, scaled to mean 1); the anchor is their mean level. The smoothing `alpha`,
how far the profile is pulled toward flat (`shrink`: noisy categories whose weekday pattern is hard
to see) and how far the level is pulled toward the anchor (`anchor_weight`: sparse categories whose
window level is mostly noise) are the triple with the least squared error on the training windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
import torch

from training.model import WEEK, WeeklyProfileES
from training.windows import FloatArray, IndexArray, window_inputs


def weekly_profile(days: FloatArray) -> FloatArray:
    """Mean-1 weekday profile of `days` (index = position modulo 7), flat when there is no signal."""
    average = np.convolve(days, np.ones(WEEK) / WEEK, mode="same")
    weekday = np.arange(len(days)) % WEEK
    inner = slice(WEEK // 2, len(days) - WEEK // 2)  # the centred average is complete there
    profile = np.array(
        [
            days[inner][weekday[inner] == index].sum()
            / max(average[inner][weekday[inner] == index].sum(), 1e-9)
            for index in range(WEEK)
        ]
    )
    return profile / profile.mean() if profile.mean() > 0 else np.ones(WEEK)


def fit_weekly_profile_es(
    days: FloatArray,
    target_index: IndexArray,
    window_size: int,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float],
    anchor_weights: Sequence[float] = (0.0,),
) -> WeeklyProfileES:
    """The `WeeklyProfileES` with the least squared error on the windows of `days` that predict the
    days at `target_index` (the training windows; `days` ends at the last of them).

    The served anchor is the mean of all `days`, but each window is scored with the mean of the days
    before its target: the full mean knows every window's future and would win in-sample."""
    profile = torch.tensor(weekly_profile(days))
    x = torch.tensor(window_inputs(days, target_index, window_size), dtype=torch.float32)
    y = torch.tensor(days[target_index], dtype=torch.float32)
    known = torch.tensor(np.cumsum(days)[target_index - 1] / target_index, dtype=torch.float32)
    best: WeeklyProfileES | None = None
    best_error = float("inf")
    for alpha, shrink in product(alphas, shrinks):
        candidate = WeeklyProfileES(profile, alpha, window_size, shrink)
        with torch.no_grad():
            level, season = candidate.decompose(x)
        for weight in anchor_weights:
            error = float(((((1.0 - weight) * level + weight * known) * season - y) ** 2).mean())
            if error < best_error:
                best_error = error
                best = WeeklyProfileES(profile, alpha, window_size, shrink, float(np.mean(days)), weight)
    if best is None:
        raise ValueError("fit_weekly_profile_es needs at least one alpha, shrink and anchor weight")
    return best
