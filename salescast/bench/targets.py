"""Issue 23's accuracy targets, checked from `salescast bench accuracy` reports.

The targets were fixed before measuring, so a report can say by itself whether they hold: a file
*has signal* at a horizon when its best classical reference beats the 14-day moving average by at
least 5 % (best / MA14 ≤ 0.95); there the model must reach ≤ 0.97 × that reference, on noise-like
data ≤ 1.00. Whatever the file, every category stays ≤ 1.02 × MA14 and the 80 / 95 % intervals cover
within ±3 points of their level. Kupiec's test per category is reported with how likely chance
alone makes that many rejections: with many categories some reject at 5 % even when calibrated.
Works on the JSON (`AccuracyReport.to_dict()`), so reports written before this module are checked too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import SalescastError
from salescast.bench.kupiec import REJECT_BELOW

SIGNAL_AT_MOST = 0.95
"""Best reference / MA14 at or below this: the file has signal (the reference beats MA14 by ≥ 5 %)."""
WITH_SIGNAL_AT_MOST = 0.97
WITHOUT_SIGNAL_AT_MOST = 1.00
CATEGORY_TO_MA14_AT_MOST = 1.02
COVERAGE_POINTS = 3.0


class TargetsError(SalescastError, ValueError):
    """A report lacks a number the targets need (an older or hand-edited JSON)."""


@dataclass(frozen=True)
class HorizonTargets:
    """One report's targets at one horizon (days ahead)."""

    horizon: int
    best_reference: str
    best_to_ma14: float
    model_to_best: float
    worst_category: str
    worst_to_ma14: float
    coverage: dict[str, float]
    kupiec_rejected: int
    kupiec_tests: int

    @property
    def has_signal(self) -> bool:
        return self.best_to_ma14 <= SIGNAL_AT_MOST

    @property
    def model_bound(self) -> float:
        return WITH_SIGNAL_AT_MOST if self.has_signal else WITHOUT_SIGNAL_AT_MOST

    @property
    def kupiec_by_chance(self) -> float:
        """P(at least this many rejections) if every interval were calibrated (binomial at 5 %)."""
        return binomial_tail(self.kupiec_rejected, self.kupiec_tests, REJECT_BELOW)

    def missed(self) -> list[str]:
        """The targets this horizon misses, worded for a reader; empty when all hold."""
        missed = []
        if round(self.model_to_best, 3) > self.model_bound:
            missed.append(f"model / best {self.model_to_best:.3f} > {self.model_bound:.2f}")
        if round(self.worst_to_ma14, 3) > CATEGORY_TO_MA14_AT_MOST:
            missed.append(f"{self.worst_category} {self.worst_to_ma14:.3f} × MA14")
        for level, covered in self.coverage.items():
            if abs(round(covered, 1) - float(level)) > COVERAGE_POINTS:  # as reported, like the ratios
                missed.append(f"{level} % coverage {covered:.1f}")
        if self.kupiec_rejected and self.kupiec_by_chance < REJECT_BELOW:
            missed.append(f"Kupiec rejects {self.kupiec_rejected} of {self.kupiec_tests}, more than chance")
        return missed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "has_signal": self.has_signal,
            "model_bound": self.model_bound,
            "kupiec_by_chance": round(self.kupiec_by_chance, 4),
            "missed": self.missed(),
        }


def check_targets(report: Mapping[str, Any], source: str = "the report") -> list[HorizonTargets]:
    """Every horizon of one accuracy report (its JSON) against the targets; TargetsError names what
    is missing, and where (`source`: the JSON's path)."""
    try:
        return _check(report)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise TargetsError(
            f"{source}: cannot check the targets ({type(exc).__name__}: "
            f"{exc}); expected an accuracy-*.json written by `salescast bench accuracy`"
        ) from None


def _check(report: Mapping[str, Any]) -> list[HorizonTargets]:
    categories: Mapping[str, Mapping[str, Any]] = report["categories"]
    found = []
    for key, overall in sorted(report["overall"].items(), key=lambda item: int(item[0][1:])):
        references = overall["references_rmse"]
        best = str(overall["best_reference"])
        to_ma14 = {name: float(entry[key]["model_to_ma14"]["mean"]) for name, entry in categories.items()}
        worst = max(to_ma14, key=lambda name: to_ma14[name])
        rejected = overall.get("kupiec_rejected_categories", {})
        found.append(
            HorizonTargets(
                horizon=int(key[1:]),
                best_reference=best,
                best_to_ma14=float(references[best]) / float(references["ma14"]),
                model_to_best=float(overall["model_to_best"]["mean"]),
                worst_category=worst,
                worst_to_ma14=to_ma14[worst],
                coverage={level: float(value) for level, value in overall["coverage"].items()},
                kupiec_rejected=int(sum(rejected.values())),
                kupiec_tests=len(categories) * len(rejected),
            )
        )
    return found


def targets_markdown(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """One row per report and horizon: the signal test, the bound it sets, and what is missed."""
    headers = [
        "data",
        "horizon",
        "best / MA14 (signal ≤ 0.95)",
        "model / best (bound)",
        "worst category / MA14 (≤ 1.02)",
        "coverage (±3 points)",
        "Kupiec rejections (chance of as many)",
        "targets",
    ]
    rows = []
    for name, report in reports:
        for found in check_targets(report):
            missed = found.missed()
            rows.append(
                [
                    name,
                    f"h={found.horizon}",
                    f"{found.best_to_ma14:.3f} ({found.best_reference}; "
                    f"{'signal' if found.has_signal else 'noise-like'})",
                    f"{found.model_to_best:.3f} (≤ {found.model_bound:.2f})",
                    f"{found.worst_to_ma14:.3f} ({found.worst_category})",
                    " · ".join(f"{level} %: {value:.1f}" for level, value in found.coverage.items()),
                    f"{found.kupiec_rejected} of {found.kupiec_tests} ({found.kupiec_by_chance:.2f})",
                    "met" if not missed else "missed: " + "; ".join(missed),
                ]
            )
    lines = [headers, [":--"] * 2 + ["--:"] * 5 + [":--"], *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def report_name(path: Path, report: Mapping[str, Any]) -> str:
    """A report's row label: its data file's name (`sample-store.csv`), else the JSON's."""
    return Path(str(report.get("data_file") or path)).name


def binomial_tail(at_least: int, trials: int, rate: float) -> float:
    """P(X ≥ `at_least`) for X ~ Binomial(`trials`, `rate`)."""
    if at_least <= 0:
        return 1.0
    return sum(
        math.comb(trials, k) * rate**k * (1.0 - rate) ** (trials - k) for k in range(at_least, trials + 1)
    )
