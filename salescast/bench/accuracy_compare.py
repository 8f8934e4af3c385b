"""Two `salescast bench accuracy` reports side by side: what a change moved, number for number.

An accuracy run is deterministic (seeded networks, the same folds), so the same command before and
after a change compares exactly: a number that did not move is reported as unchanged, not as noise.
Both reports must score the same file's categories the same way (folds, days per fold, window, seeds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import SalescastError

SAME_RUN = ("folds", "fold_days", "window_size", "seeds")
"""What two reports must share to be compared."""


class CompareError(SalescastError, ValueError):
    """The files are not two accuracy reports of the same run's kind."""


def load_accuracy_report(path: Path) -> dict[str, Any]:
    """The JSON `salescast bench accuracy` wrote at `path`; CompareError when it is not one."""
    try:
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CompareError(f"{path}: no such file (expected an accuracy-*.json of bench accuracy)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{path}: not a JSON report ({exc})") from exc
    missing = [
        key
        for key in ("overall", "categories", *SAME_RUN)
        if not isinstance(report, dict) or key not in report
    ]
    if missing:
        raise CompareError(
            f"{path}: not a bench accuracy report (no {', '.join(missing)}; expected an accuracy-*.json)"
        )
    return report


def compare_accuracy(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Every number of both reports, overall and per category and horizon, with whether it moved."""
    differ = [f"{key} {before[key]} vs {after[key]}" for key in SAME_RUN if before[key] != after[key]]
    if differ:
        raise CompareError(f"the reports were not run alike: {'; '.join(differ)} (use the same command)")
    files = [Path(str(report.get("data_file", ""))).name for report in (before, after)]
    if files[0] != files[1]:
        raise CompareError(
            f"the reports score different files ({files[0]} vs {files[1]}); compare two runs on one file"
        )
    if set(before["categories"]) != set(after["categories"]):
        only = sorted(set(before["categories"]) ^ set(after["categories"]))
        raise CompareError(f"the reports score different categories (only in one: {', '.join(only)})")
    scopes = [("overall", before["overall"], after["overall"])]
    scopes += [(name, before["categories"][name], after["categories"][name]) for name in before["categories"]]
    rows = []
    for scope, old, new in scopes:
        for horizon in sorted((key for key in old if key in new and _is_horizon(key)), key=_days):
            then, now = _numbers(old[horizon]), _numbers(new[horizon])
            for metric in then.keys() & now.keys():
                rows.append(
                    {
                        "scope": scope,
                        "horizon": horizon,
                        "metric": metric,
                        "before": then[metric],
                        "after": now[metric],
                        "moved": not math.isclose(then[metric], now[metric], rel_tol=1e-9, abs_tol=1e-12),
                    }
                )
    order = list(_numbers(before["overall"][next(iter(before["overall"]))]))
    rows.sort(key=lambda row: (row["scope"] != "overall", _days(row["horizon"]), _rank(order, row["metric"])))
    return {
        "before": before.get("data_file"),
        "after": after.get("data_file"),
        "rows": rows,
        "moved": sum(row["moved"] for row in rows),
    }


def comparison_markdown(comparison: Mapping[str, Any]) -> str:
    """Overall: every number before → after; per category: only what moved."""
    header = ["scope", "horizon", "metric", "before", "after", "change"]
    overall = [row for row in comparison["rows"] if row["scope"] == "overall"]
    moved = [row for row in comparison["rows"] if row["scope"] != "overall" and row["moved"]]
    lines = [
        f"Before: `{comparison['before']}` · after: `{comparison['after']}` · "
        f"{comparison['moved']} of {len(comparison['rows'])} numbers moved",
        "",
        "**Overall**",
        "",
        _table(header, overall),
        "",
        "**Per category, what moved**",
        "",
        _table(header, moved) if moved else "No category's number moved.",
    ]
    return "\n".join(lines) + "\n"


def _numbers(entry: Mapping[str, Any]) -> dict[str, float]:
    """One horizon's comparable numbers: the model's ratios, coverage, Kupiec and interval scores."""
    numbers = {"model / best": float(entry["model_to_best"]["mean"])}
    if "model_to_ma14" in entry:
        numbers["model / ma14"] = float(entry["model_to_ma14"]["mean"])
    numbers |= {f"coverage {level} %": float(v) for level, v in entry.get("coverage", {}).items()}
    rejected = entry.get("kupiec_rejected_categories", {})
    numbers |= {f"Kupiec rejections {level} %": float(v) for level, v in rejected.items()}
    numbers |= {f"Kupiec p {level} %": float(v) for level, v in entry.get("coverage_kupiec_p", {}).items()}
    numbers |= {name.replace("_", " "): float(v) for name, v in entry.get("interval_scores", {}).items()}
    return numbers


def _is_horizon(key: str) -> bool:
    return key.startswith("h") and key[1:].isdigit()


def _days(horizon: str) -> int:
    return int(horizon[1:])


def _rank(order: list[str], metric: str) -> tuple[int, str]:
    return (order.index(metric) if metric in order else len(order), metric)


def _table(header: list[str], rows: list[dict[str, Any]]) -> str:
    lines = [header, [":--"] * 3 + ["--:"] * 3]
    for row in rows:
        before, after = row["before"], row["after"]
        lines.append(
            [row["scope"], row["horizon"], row["metric"], _number(before), _number(after), _change(row)]
        )
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def _change(row: Mapping[str, Any]) -> str:
    """Points for shares and counts (coverage, Kupiec), a ratio for everything else."""
    before, after = row["before"], row["after"]
    if not row["moved"]:
        return "unchanged"
    if "coverage" in row["metric"] or row["metric"].startswith("Kupiec"):
        return f"{after - before:+.3g}"
    return f"× {after / before:.3f}" if before else "—"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1000:
        return str(int(value))
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
