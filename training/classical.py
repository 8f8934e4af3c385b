"""Fit the classical part of a forecaster in closed form: `WeeklyProfileES` from the training days.

The weekly profile is each weekday's share of the centred 7-day moving average (a ratio of sums
over the training days, scaled to mean 1). The smoothing `alpha` and how far the profile is pulled
toward flat (`shrink`: noisy categories whose weekday pattern is hard to see) are the pair with the
least squared error on the training windows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from training.model import WEEK, WeeklyProfileES
from training.windows import FloatArray


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
    training_days: FloatArray,
    windows: FloatArray,
    targets: FloatArray,
    *,
    alphas: Sequence[float],
    shrinks: Sequence[float],
) -> WeeklyProfileES:
    """The `WeeklyProfileES` with the least squared error on the training `windows` → `targets`."""
    profile = torch.tensor(weekly_profile(training_days))
    x = torch.tensor(windows, dtype=torch.float32)
    y = torch.tensor(targets, dtype=torch.float32)
    best: WeeklyProfileES | None = None
    best_error = float("inf")
    for alpha in alphas:
        for shrink in shrinks:
            candidate = WeeklyProfileES(profile, alpha, windows.shape[1], shrink)
            with torch.no_grad():
                error = float(((candidate(x) - y) ** 2).mean())
            if error < best_error:
                best, best_error = candidate, error
    if best is None:
        raise ValueError("fit_weekly_profile_es needs at least one alpha and one shrink")
    return best
