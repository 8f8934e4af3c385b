"""Interval and quantile scores against hand-computed values and their known identity."""

from __future__ import annotations

import numpy as np
import pytest

from training.interval_scores import interval_score, pinball_loss


def test_the_interval_score_is_the_width_plus_the_weighted_miss() -> None:
    actual = np.array([5.0, 12.0, 0.0])
    lower, upper = np.full(3, 2.0), np.full(3, 10.0)
    # inside: width 8; above by 2 at 80 %: 8 + 2 / 0.2 × 2 = 28; below by 2: 28
    assert interval_score(actual, lower, upper, 0.8) == pytest.approx([8.0, 28.0, 28.0])


def test_the_interval_score_is_twice_the_pinball_loss_of_its_bounds_over_alpha() -> None:
    rng = np.random.default_rng(3)
    actual, lower = rng.normal(size=200), rng.normal(-1.0, 0.3, 200)
    upper = lower + 2.0
    alpha = 0.2
    pinball = pinball_loss(actual, lower, alpha / 2) + pinball_loss(actual, upper, 1 - alpha / 2)
    assert np.mean(interval_score(actual, lower, upper, 1 - alpha)) == pytest.approx(2 / alpha * pinball)
