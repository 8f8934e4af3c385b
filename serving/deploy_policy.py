"""Whether a freshly trained version replaces the served one: a pure function of the metrics.

`if_better` deploys when the new model's test RMSE is below the seasonal-naive baseline's AND not
worse than the served version's RMSE on the same test days (`metrics["test"]["served"]`, which
training computes when asked to compare). A category with no served version always gets its first
model. The reason always carries the numbers it was decided on.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.contracts.metrics import VersionMetrics
from core.settings import DeployPolicy


@dataclass(frozen=True)
class DeployDecision:
    deploy: bool
    reason: str


def decide_deploy(
    policy: DeployPolicy, metrics: VersionMetrics | None, served_version: str | None
) -> DeployDecision:
    """Decide from `metrics.json` of the new version and the version served when the job started."""
    model = metrics.rmse("model") if metrics else None
    seasonal = metrics.rmse("seasonal_naive") if metrics else None
    served = metrics.rmse("served") if metrics else None
    comparison = _describe(model, seasonal, served, served_version)
    if policy == "never":
        return DeployDecision(False, f"deploy policy is `never`; {comparison}")
    if served_version is None:
        return DeployDecision(True, f"first model of this category, deployed; {comparison}")
    if policy == "always":
        return DeployDecision(True, f"deploy policy is `always`; {comparison}")
    if model is None or seasonal is None:
        return DeployDecision(False, f"kept served {served_version}: test RMSE missing from metrics")
    if model >= seasonal:
        return DeployDecision(
            False,
            f"kept served {served_version}: test RMSE {model:.4g} is not below seasonal-naive {seasonal:.4g}",
        )
    if served is None:
        return DeployDecision(
            False, f"kept served {served_version}: no RMSE of the served version on the same test days"
        )
    if model > served:
        return DeployDecision(
            False,
            f"kept served {served_version}: test RMSE {model:.4g} is worse than served {served:.4g} "
            f"on the same test days",
        )
    return DeployDecision(
        True,
        f"deployed: test RMSE {model:.4g} < seasonal-naive {seasonal:.4g} and <= served {served:.4g}",
    )


def _describe(model: float | None, seasonal: float | None, served: float | None, version: str | None) -> str:
    parts = [f"test RMSE {_fmt(model)}", f"seasonal-naive {_fmt(seasonal)}"]
    if version is not None:
        parts.append(f"served {version} {_fmt(served)}")
    return ", ".join(parts)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
