"""Forecast reconciliation across a file's total and its categories (Wickramasuriya et al. 2019).

Forecasts made for the total and for each category separately need not add up; reconciling them
projects the forecasts onto the sums: ỹ = S (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹ ŷ, with S the summing matrix
(the total, then each category) and W the covariance of the forecasts' errors. It works across series,
so it belongs to batch forecasts of a whole file, not inside one category's archive. Three choices of W:
`ols` (the identity), `wls` (the errors' variances) and `mint_shrink` (their covariance shrunk toward
its diagonal, Schäfer & Strimmer 2005: with a few hundred days a full covariance is too noisy to invert).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from training.windows import FloatArray

Method = Literal["ols", "wls", "mint_shrink"]
METHODS: tuple[Method, ...] = ("ols", "wls", "mint_shrink")


def summing_matrix(categories: int) -> FloatArray:
    """`[1 + categories, categories]`: the total (all ones) above the identity."""
    return np.vstack([np.ones((1, categories)), np.eye(categories)])


def shrunk_covariance(errors: FloatArray) -> tuple[FloatArray, float]:
    """The covariance of `errors` `[series, days]` shrunk toward its diagonal, and the shrinkage λ
    (the share of the off-diagonal correlations taken away, chosen from the data)."""
    if errors.shape[1] < 3:
        raise ValueError(f"need at least 3 days of errors for their covariance, got {errors.shape[1]}")
    days = errors.shape[1]
    centred = errors - errors.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    scaled = centred / sd[:, None]
    products = np.einsum("it,jt->ijt", scaled, scaled)
    correlation = products.sum(axis=2) / (days - 1)
    variance = days / (days - 1) ** 3 * ((products - products.mean(axis=2, keepdims=True)) ** 2).sum(axis=2)
    off = ~np.eye(len(errors), dtype=bool)
    denominator = float((correlation[off] ** 2).sum())
    shrinkage = float(np.clip(variance[off].sum() / denominator, 0.0, 1.0)) if denominator > 0 else 1.0
    shrunk = np.where(off, (1.0 - shrinkage) * correlation, correlation) * np.outer(sd, sd)
    return np.asarray(shrunk, dtype=np.float64), shrinkage


def error_covariance(errors: FloatArray, method: Method) -> FloatArray:
    """W for `method` from the forecasts' errors `[series, days]` on days they did not learn from."""
    if method == "ols":
        return np.eye(len(errors))
    if method == "wls":
        return np.diag(np.maximum(errors.var(axis=1, ddof=1), 1e-12))
    return shrunk_covariance(errors)[0]


def reconcile(forecasts: FloatArray, covariance: FloatArray) -> FloatArray:
    """`forecasts` `[1 + categories, days]` (the total first) made to add up: the categories' sum is
    the total on every day."""
    summing = summing_matrix(len(forecasts) - 1)
    inverse = np.linalg.pinv(covariance)
    projection = np.linalg.solve(summing.T @ inverse @ summing, summing.T @ inverse)
    return np.asarray(summing @ projection @ forecasts, dtype=np.float64)
