"""What a version's `norm_stats.json` (its manifest) must say for the handler to serve it, checked
once at load, and the describe answer built from it.

Travels inside every `.mar` beside `forecast_steps.py`. The standard library only (no torch), so the
gateway's index of archived versions (`serving.version_index`) describes a version with the
handler's own `describe`. A manifest written before a field existed gets that field's default here
(`format_version` 1, `model_input` "normalized", `max_horizon` 1); `forecast_steps.prepare_stats`
then says, whatever the format version, which normalization the steps apply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handlers import calendar_terms
else:
    try:  # inside a .mar: the archive's own copies (TorchServe puts the model dir on sys.path)
        import calendar_terms
    except ModuleNotFoundError as missing:  # in the repository
        if missing.name != "calendar_terms":
            raise
        from handlers import calendar_terms

REQUIRED_STATS = ("category", "version", "window_size", "mean", "std")
MODEL_INPUTS = ("normalized", "raw")
FORMAT_VERSIONS = (1, 2, 3)
WEEKDAY_FORMAT = 3
"""The first `format_version` whose `model.pt` takes the weekday of the day forecast."""
WINDOW_LEVEL, GLOBAL, NONE = "window_level", "global", "none"
"""Normalization methods: the current one, and the two of archives without a format version."""
INTERVAL_SCALES = ("none", "diff", "msd", "mad", "std")
MIN_LEVEL, MAX_LEVEL = 50, 99


def read_norm_stats(path: Path) -> dict[str, Any]:
    """Read `norm_stats.json` and check the fields the handler relies on (`check_stats`), as JSON
    (`forecast_steps.load_norm_stats` prepares it for serving). ValueError names the file and the field."""
    stats = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(stats, dict):
        raise ValueError(f"{path.name} must hold a JSON object")
    check_stats(stats, path.name)
    return stats


def check_stats(stats: dict[str, Any], where: str) -> None:
    """The manifest fields the handler relies on (std > 0, N >= 1, …); fills the defaults of
    manifests written before a field existed."""
    missing = [key for key in REQUIRED_STATS if key not in stats]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    window_size = stats["window_size"]
    if not is_integer(window_size) or window_size < 1:
        raise ValueError(f"{where}: window_size must be a positive integer, got {window_size!r}")
    for key in ("mean", "std"):
        if not is_finite_number(stats[key]):
            raise ValueError(f"{where}: {key} must be a finite number, got {stats[key]!r}")
    if stats["std"] <= 0:
        raise ValueError(f"{where}: std must be > 0, got {stats['std']!r}")
    stats.setdefault("format_version", 1)
    stats.setdefault("model_input", "normalized")
    stats.setdefault("max_horizon", 1)
    if stats["format_version"] not in FORMAT_VERSIONS or not is_integer(stats["format_version"]):
        raise ValueError(
            f"{where}: format_version must be one of {FORMAT_VERSIONS}, got {stats['format_version']!r}"
        )
    if stats["model_input"] not in MODEL_INPUTS:
        raise ValueError(f"{where}: model_input must be one of {MODEL_INPUTS}, got {stats['model_input']!r}")
    horizon = stats["max_horizon"]
    if not is_integer(horizon) or horizon < 1:
        raise ValueError(f"{where}: max_horizon must be a positive integer, got {horizon!r}")
    if stats["format_version"] >= 2:
        if stats["model_input"] != "normalized":
            raise ValueError(f"{where}: format_version 2 and 3 models take normalized windows (model_input)")
        check_normalization(stats.get("normalization"), where)
    elif stats.get("normalization") is not None:
        raise ValueError(f"{where}: a normalization block needs format_version 2")
    if stats.get("intervals") is not None:
        check_intervals(stats["intervals"], where)
    if stats.get("calendar") is not None:
        calendar_terms.check_calendar(stats["calendar"], where)


def check_normalization(block: Any, where: str) -> None:
    """The `normalization` block of a format-2 manifest: method, level_floor > 0, cv > 0, non_negative."""
    if not isinstance(block, Mapping):
        raise ValueError(f"{where}: normalization must be an object")
    if block.get("method") != WINDOW_LEVEL:
        raise ValueError(
            f"{where}: normalization.method must be {WINDOW_LEVEL!r}, got {block.get('method')!r}"
        )
    for key in ("level_floor", "cv"):
        value: Any = block.get(key)
        if not is_finite_number(value) or value <= 0:
            raise ValueError(f"{where}: normalization.{key} must be a finite number > 0, got {value!r}")
    if not isinstance(block.get("non_negative"), bool):
        raise ValueError(f"{where}: normalization.non_negative must be true or false")


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_intervals(calibration: Any, where: str) -> None:
    """The interval calibration the handler relies on: levels, one quantile row per level, scale."""
    if not isinstance(calibration, Mapping):
        raise ValueError(f"{where}: intervals must be an object")
    levels, quantiles = calibration.get("levels"), calibration.get("quantiles")
    if calibration.get("scale") not in INTERVAL_SCALES:
        raise ValueError(f"{where}: intervals.scale must be one of {INTERVAL_SCALES}")
    if (
        not isinstance(levels, list)
        or not levels
        or not all(isinstance(level, int) and MIN_LEVEL <= level <= MAX_LEVEL for level in levels)
    ):
        raise ValueError(f"{where}: intervals.levels must be whole percents within {MIN_LEVEL}..{MAX_LEVEL}")
    if not isinstance(quantiles, list) or len(quantiles) != len(levels):
        raise ValueError(f"{where}: intervals.quantiles must hold one row per level")
    widths = {len(row) if isinstance(row, list) else -1 for row in quantiles}
    if len(widths) != 1 or min(widths) < 1:
        raise ValueError(f"{where}: intervals.quantiles rows must be non-empty lists of one length")
    if not all(isinstance(q, (int, float)) and math.isfinite(q) and q >= 0 for row in quantiles for q in row):
        raise ValueError(f"{where}: intervals.quantiles must be finite non-negative numbers")
    exponent = calibration.get("level_exponent", 0.0)
    if not is_finite_number(exponent) or not 0 <= exponent <= 1:
        raise ValueError(f"{where}: intervals.level_exponent must be a number from 0 to 1, got {exponent!r}")
    totals = calibration.get("total_quantiles")
    if totals is not None:
        if not isinstance(totals, list) or len(totals) != len(levels):
            raise ValueError(f"{where}: intervals.total_quantiles must hold one row per level")
        if {len(row) if isinstance(row, list) else -1 for row in totals} != widths:
            raise ValueError(f"{where}: intervals.total_quantiles rows must be as long as the quantiles rows")
        if not all(
            isinstance(q, (int, float)) and math.isfinite(q) and q >= 0 for row in totals for q in row
        ):
            raise ValueError(f"{where}: intervals.total_quantiles must be finite non-negative numbers")
    defaults = calibration.get("default_levels")
    if not isinstance(defaults, list) or not defaults or not set(defaults) <= set(levels):
        raise ValueError(f"{where}: intervals.default_levels must be calibrated levels")


def read_metrics_summary(path: Path) -> dict[str, Any]:
    """`metrics.json` for the describe answer; {} when the archive has none."""
    if not path.is_file():
        return {}
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def describe(stats: Mapping[str, Any], metrics_summary: Mapping[str, Any]) -> dict[str, Any]:
    """`GET /models/<name>?customized=true`: what this version is and how it scored."""
    return {
        "category": stats.get("category"),
        "model_version": str(stats.get("version")),
        "window_size": stats.get("window_size"),
        "train_end": stats.get("train_end"),
        "last_date": stats.get("last_date"),
        "metrics": metrics_summary.get("test", {}),
        "max_horizon": stats.get("max_horizon", 1),
        "interval_levels": (stats.get("intervals") or {}).get("default_levels", []),
        "backtest": metrics_summary.get("backtest"),
        "fallback": stats.get("fallback"),
        "classical": stats.get("classical"),
        "calendar": calendar_terms.calendar_summary(stats.get("calendar")),
        "weekday_input": reads_weekday(stats),
    }


def reads_weekday(stats: Mapping[str, Any]) -> bool:
    """Whether the version's model takes the weekday of the day forecast (from a request's
    `last_date`): `format_version` 3 and later."""
    return int(stats.get("format_version", 1)) >= WEEKDAY_FORMAT
