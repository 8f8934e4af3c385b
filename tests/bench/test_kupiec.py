"""Kupiec's proportion-of-failures test, against the likelihood ratio worked by hand."""

from __future__ import annotations

import math

import pytest

from salescast.bench.kupiec import kupiec_pvalue


def test_exact_nominal_coverage_is_never_rejected() -> None:
    assert kupiec_pvalue(112, 140, 0.8) == pytest.approx(1.0)  # 28 misses: exactly 20 %


def test_the_p_value_matches_the_hand_worked_ratio() -> None:
    # 105 of 140 inside an 80 % interval: LR = -2 [35 ln .2 + 105 ln .8 - 35 ln .25 - 105 ln .75]
    ratio = -2 * (35 * math.log(0.2) + 105 * math.log(0.8) - 35 * math.log(0.25) - 105 * math.log(0.75))
    assert ratio == pytest.approx(2.06696, abs=1e-4)
    assert kupiec_pvalue(105, 140, 0.8) == pytest.approx(0.15052, abs=1e-4)  # χ²(1) tail of 2.067


@pytest.mark.parametrize(
    ("hits", "days", "level", "rejected"),
    [
        (98, 140, 0.8, True),  # 70 %: too narrow
        (109, 140, 0.8, False),  # 77.9 %: within noise
        (140, 140, 0.95, True),  # never missing over 140 days: too wide
        (19, 20, 0.95, False),  # a short history proves little
    ],
)
def test_rejection_at_five_percent(hits: int, days: int, level: float, rejected: bool) -> None:
    assert (kupiec_pvalue(hits, days, level) < 0.05) is rejected


def test_bad_arguments_say_what_is_expected() -> None:
    with pytest.raises(ValueError, match="days > 0"):
        kupiec_pvalue(1, 0, 0.8)
    with pytest.raises(ValueError, match="0 < level < 1"):
        kupiec_pvalue(1, 10, 80)
