"""MinT and its two simpler cousins: reconciled forecasts add up, and W decides who gives way."""

from __future__ import annotations

import numpy as np
import pytest

from training.reconciliation import METHODS, error_covariance, reconcile, shrunk_covariance, summing_matrix


def test_the_summing_matrix_puts_the_total_above_the_categories() -> None:
    assert summing_matrix(2).tolist() == [[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]


@pytest.mark.parametrize("method", METHODS)
def test_reconciled_categories_add_up_to_the_total(method: str) -> None:
    rng = np.random.default_rng(0)
    forecasts = np.vstack([[100.0, 120.0, 90.0], [30.0, 50.0, 20.0], [40.0, 45.0, 50.0]])
    errors = rng.normal(size=(3, 200)) * np.array([[10.0], [4.0], [5.0]])
    reconciled = reconcile(forecasts, error_covariance(errors, method))  # type: ignore[arg-type]
    assert reconciled[0] == pytest.approx(reconciled[1:].sum(axis=0))
    assert not np.allclose(reconciled, forecasts)  # 100 ≠ 30 + 40: something had to give way


def test_forecasts_that_already_add_up_stay_as_they_are() -> None:
    coherent = np.vstack([[70.0, 95.0], [30.0, 50.0], [40.0, 45.0]])
    rng = np.random.default_rng(1)
    covariance = shrunk_covariance(rng.normal(size=(3, 100)))[0]
    assert reconcile(coherent, covariance) == pytest.approx(coherent)


def test_the_series_with_the_smallest_errors_gives_way_least() -> None:
    """A total forecast far better than its categories' pulls them to it (WLS)."""
    forecasts = np.array([[100.0], [30.0], [40.0]])
    variances = np.diag([1e-6, 25.0, 25.0])
    reconciled = reconcile(forecasts, variances)
    assert reconciled[0, 0] == pytest.approx(100.0, abs=1e-3)
    assert reconciled[1:, 0] == pytest.approx([45.0, 55.0], abs=1e-3)  # the 30 missing, shared equally


def test_shrinkage_is_large_on_unrelated_errors_and_small_on_related_ones() -> None:
    rng = np.random.default_rng(2)
    unrelated = rng.normal(size=(4, 60))
    common = rng.normal(size=(1, 400))
    related = common + 0.3 * rng.normal(size=(4, 400))
    unrelated_shrinkage = shrunk_covariance(unrelated)[1]
    related_covariance, related_shrinkage = shrunk_covariance(related)
    assert unrelated_shrinkage > 0.5
    assert related_shrinkage < 0.05
    assert np.diag(related_covariance) == pytest.approx(related.var(axis=1, ddof=1))


def test_too_few_days_of_errors_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 3 days"):
        shrunk_covariance(np.ones((3, 2)))
