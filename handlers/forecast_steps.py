"""The handler's pure steps, and the one way to load and run a `model.pt`.

parse → validate → normalize → forward → de-normalize → intervals → answer, as plain functions over
torch tensors. This module depends on torch and the standard library only: it travels inside every
`.mar` beside `forecast_handler.py` (`--extra-files`), so an archive runs in any TorchServe or KServe
without salescast installed. Training, the bench and the tests load and run models through
`load_model` and `predict` here too (a test fails if any other module calls `torch.jit.load`), so a
served forecast and an evaluated one come from the same code.

What `norm_stats.json` says the model takes (`normalization` below is the handler's view of it):
- `format_version` 2, `normalization.method` "window_level": per window x of N days,
  `level = max(mean(x), level_floor)`, `unit = level × cv`, `z = (x − level) / unit`;
  `model(z, level, unit)` returns the next day in the same scaled units, `y = level + unit × out`,
  clamped at 0 when `non_negative`.
- no `format_version` (archives made before it), `model_input` "normalized": `z = (x − mean) / std`,
  `model(z)`, `y = mean + std × out`.
- no `format_version`, `model_input` "raw": `model(x)` returns y; the model scales inside.
The three are one formula with (level, unit) = (window's, window's), (mean, std) or (0, 1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

if TYPE_CHECKING:
    from handlers import calendar_terms
else:
    try:  # inside a .mar: the archive's own copy (TorchServe puts the model dir on sys.path)
        import calendar_terms
    except ModuleNotFoundError as missing:  # in the repository
        if missing.name != "calendar_terms":
            raise
        from handlers import calendar_terms

MODEL_FILE = "model.pt"
NORM_STATS_FILE = "norm_stats.json"
METRICS_FILE = "metrics.json"
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
BAD_REQUEST = 400
UNPROCESSABLE = 422
SALES_FORM = "sales"
INSTANCES_FORM = "instances"
REQUIRED_STATS = ("category", "version", "window_size", "mean", "std")
MODEL_INPUTS = ("normalized", "raw")
FORMAT_VERSIONS = (1, 2)
WINDOW_LEVEL, GLOBAL, NONE = "window_level", "global", "none"
"""Normalization methods: the current one, and the two of archives without a format version."""
INTERVAL_SCALES = ("none", "diff", "msd", "mad", "std")
SEASON = 7
MIN_LEVEL, MAX_LEVEL = 50, 99
NUMBER_TYPES = frozenset((int, float))
TOTAL_WITHOUT_INTERVALS = (
    "no interval for the total: this version was calibrated before intervals of totals existed "
    "(retrain it for one); per-day intervals do not add up"
)
TOTAL_WITHOUT_CALIBRATION = "no interval for the total: this version has no interval calibration"


# ---- loading ------------------------------------------------------------------------------------


def load_model(path: Path) -> torch.jit.ScriptModule:
    """Load a TorchScript `model.pt` on CPU in eval mode: the one `torch.jit.load` of the project."""
    model: torch.jit.ScriptModule = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    return model.eval()


def load_norm_stats(path: Path) -> dict[str, Any]:
    """Read `norm_stats.json`, check the fields the handler relies on, and prepare it for serving
    (`prepare_stats`). ValueError names the file and the field."""
    stats = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(stats, dict):
        raise ValueError(f"{path.name} must hold a JSON object")
    check_stats(stats, path.name)
    return prepare_stats(stats)


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
            raise ValueError(f"{where}: format_version 2 models take normalized windows (model_input)")
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


def prepare_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as the handler serves it: `normalization` says what is applied whatever the
    format version (see the module docstring), and the interval quantile tables (levels × days, of
    single days and of totals) are float64 tensors made at load, not on every request."""
    prepared = dict(stats)
    if prepared.get("format_version", 1) < 2:
        if prepared.get("model_input") == "raw":
            prepared["normalization"] = {"method": NONE, "non_negative": False}
        else:
            prepared["normalization"] = {
                "method": GLOBAL,
                "mean": float(prepared["mean"]),
                "std": float(prepared["std"]),
                "non_negative": False,
            }
    if prepared.get("intervals") is not None:
        block = dict(prepared["intervals"])
        for key in ("quantiles", "total_quantiles"):
            if block.get(key) is not None:
                block[key] = torch.tensor(block[key], dtype=torch.float64)
        prepared["intervals"] = block
    return prepared


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
    }


# ---- parse and validate -------------------------------------------------------------------------


def request_body(request: Any) -> Any:
    """The body of one TorchServe request, decoded from bytes/str JSON when TorchServe did not parse it.

    Under TorchServe's `kserve` service envelope a "request" is one bare instance (a list of N
    numbers); it is read as `{"sales": [...]}`.
    """
    if isinstance(request, list):
        return {SALES_FORM: request}
    body = request.get("body")
    if body is None:
        body = request.get("data")
    if body is None:
        raise ValueError(
            'empty request body: send JSON like {"sales": [numbers]} with Content-Type: application/json'
        )
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("request body is not UTF-8 text") from None
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"request body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    return body


Request = tuple[str, list[list[float]], int, "list[int] | None", "date | None"]
"""One validated request: (form, rows of N floats, days ahead, levels or None for the defaults,
date of the last value or None)."""


def parse_request(body: Any, stats: Mapping[str, Any]) -> Request:
    """Validate one request body against the version's manifest.

    Raises ValueError with a message meant for the client ("expected 14 values, got 3").
    """
    window_size = int(stats["window_size"])
    if isinstance(body, Mapping) and SALES_FORM in body:
        form, rows = SALES_FORM, [validate_values(body[SALES_FORM], window_size)]
    elif isinstance(body, Mapping) and INSTANCES_FORM in body:
        instances = body[INSTANCES_FORM]
        if not isinstance(instances, list) or not instances:
            raise ValueError(f'"instances" must be a non-empty list of lists of {window_size} numbers')
        rows = []
        for index, values in enumerate(instances):
            try:
                rows.append(validate_values(values, window_size))
            except ValueError as exc:
                raise ValueError(f"instance {index}: {exc}") from None
        form = INSTANCES_FORM
    else:
        raise ValueError(
            f'expected a JSON object {{"sales": [{window_size} numbers]}} '
            f'or {{"instances": [[{window_size} numbers], ...]}}'
        )
    return (
        form,
        rows,
        parse_horizon(body.get("horizon"), stats),
        parse_levels(body.get("levels"), stats),
        calendar_terms.parse_last_date(body.get("last_date")),
    )


def parse_horizon(value: Any, stats: Mapping[str, Any]) -> int:
    """Days ahead: 1 when absent, else a whole number within 1..max_horizon."""
    limit = int(stats["max_horizon"])
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise ValueError(f"horizon must be a whole number from 1 to {limit}, got {value!r}")
    return value


def parse_levels(value: Any, stats: Mapping[str, Any]) -> list[int] | None:
    """Interval levels in percent (each rounded to a calibrated level); None = the version's defaults."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        not isinstance(level, bool) and isinstance(level, (int, float)) and MIN_LEVEL <= level <= MAX_LEVEL
        for level in value
    ):
        raise ValueError(f"levels must be a list of percents from {MIN_LEVEL} to {MAX_LEVEL}, got {value!r}")
    return sorted({round(level) for level in value})


def validate_values(values: Any, window_size: int) -> list[float]:
    """Exactly `window_size` finite numbers that fit in float32 (1e308 is finite only in float64).

    Plain JSON numbers within range pass a few C-level checks (a batch of 1000 windows is 14 000
    values); anything else is checked value by value, so the message names the first bad one."""
    if not isinstance(values, list):
        raise ValueError(f"expected a list of {window_size} numbers, got {type(values).__name__}")
    if len(values) != window_size:
        raise ValueError(f"expected {window_size} values, got {len(values)}")
    if values and NUMBER_TYPES.issuperset(map(type, values)):
        try:
            numbers = list(map(float, values))
        except OverflowError:  # an integer beyond float64: the loop below names it
            numbers = []
        # A NaN or an infinity makes the sum non-finite (so does an overflow, which takes values far
        # outside the float32 range); either way the loop below finds the value.
        if (
            numbers
            and math.isfinite(sum(numbers))
            and -FLOAT32_MAX <= min(numbers) <= max(numbers) <= FLOAT32_MAX
        ):
            return numbers
    checked = []
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value at position {position} is not a number: {value!r}")
        try:
            number = float(value)
        except OverflowError:  # JSON allows integers of any length
            message = f"value at position {position} is an integer outside the float32 range"
            raise ValueError(message) from None
        if not math.isfinite(number):
            raise ValueError(f"value at position {position} is not finite: {number}")
        if abs(number) > FLOAT32_MAX:
            raise ValueError(f"value at position {position} is outside the float32 range: {number:g}")
        checked.append(number)
    return checked


class Batch(NamedTuple):
    """A TorchServe batch after parsing: each request validated (or its error message), every valid
    row stacked in one [R, N] float64 tensor, the longest horizon asked, and whether the answers
    go out as JSON text (not under a service envelope, which builds its own answer from dicts).

    With calendar terms (the manifest's `calendar` and a request's `last_date`) a row is stored
    divided by its days' factors, and `target_factors` [R, horizon] holds the factors its forecast
    is multiplied by (1 for rows without a date); None when no row of the batch has them."""

    parsed: list[Request | str]
    windows: torch.Tensor
    horizon: int
    as_text: bool
    target_factors: torch.Tensor | None = None


def parse_batch(requests: Sequence[Any], stats: Mapping[str, Any]) -> Batch:
    """Validate every request of a batch; a bad one keeps its message and does not stop the others."""
    parsed: list[Request | str] = []
    for raw in requests:
        try:
            parsed.append(parse_request(request_body(raw), stats))
        except ValueError as exc:
            parsed.append(str(exc))
    valid = [item for item in parsed if not isinstance(item, str)]
    rows = [row for item in valid for row in item[1]]
    horizon = max((item[2] for item in valid), default=0)
    width = int(stats["window_size"])
    windows = torch.tensor(rows, dtype=torch.float64) if rows else torch.zeros(0, width, dtype=torch.float64)
    as_text = all(isinstance(raw, Mapping) for raw in requests)
    block = stats.get("calendar")
    if block is None or all(item[4] is None for item in valid):
        return Batch(parsed, windows, horizon, as_text)
    window_factors = torch.ones_like(windows)
    target_factors = torch.ones(len(rows), horizon, dtype=torch.float64)
    offset = 0
    for _, item_rows, _, _, last_date in valid:
        end = offset + len(item_rows)
        if last_date is not None:
            before, ahead = calendar_terms.request_factors(block, last_date, width, horizon)
            window_factors[offset:end] = torch.tensor(before, dtype=torch.float64)
            target_factors[offset:end] = torch.tensor(ahead, dtype=torch.float64)
        offset = end
    adjusted = windows / window_factors.clamp(min=float(block["floor"]))
    return Batch(parsed, adjusted, horizon, as_text, target_factors)


# ---- normalize -> forward -> de-normalize -------------------------------------------------------


def normalize(
    windows: torch.Tensor, normalization: Mapping[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z [B, N] float32, level [B], unit [B] float64) with `z = (x − level) / unit`, for the whole
    batch [B, N] float64 at once; computed in float64 so only z is rounded (see the module docstring
    for level and unit of each method)."""
    method = normalization["method"]
    if method == WINDOW_LEVEL:
        level = windows.mean(dim=1).clamp(min=float(normalization["level_floor"]))
        unit = level * float(normalization["cv"])
    elif method == GLOBAL:
        level = torch.full((windows.shape[0],), float(normalization["mean"]), dtype=torch.float64)
        unit = torch.full((windows.shape[0],), float(normalization["std"]), dtype=torch.float64)
    else:
        level = torch.zeros(windows.shape[0], dtype=torch.float64)
        unit = torch.ones(windows.shape[0], dtype=torch.float64)
    z = ((windows - level.unsqueeze(1)) / unit.unsqueeze(1)).to(torch.float32)
    return z, level, unit


def forward(
    model: torch.nn.Module, z: torch.Tensor, level: torch.Tensor, unit: torch.Tensor, scaled: bool
) -> torch.Tensor:
    """One batched forward: `model(z, level, unit)` when the model takes the window's scale
    (`scaled`), else `model(z)`; returns [B] in the model's units."""
    with torch.inference_mode():
        output: torch.Tensor = (
            model(z, level.to(torch.float32), unit.to(torch.float32)) if scaled else model(z)
        )
    return output.reshape(-1)


def denormalize(
    outputs: torch.Tensor, level: torch.Tensor, unit: torch.Tensor, non_negative: bool
) -> torch.Tensor:
    """[B] float64 sales: `level + unit × out`, never below 0 when `non_negative`."""
    values = level + unit * outputs.to(torch.float64)
    return values.clamp(min=0.0) if non_negative else values


def predict(model: torch.nn.Module, windows: torch.Tensor, normalization: Mapping[str, Any]) -> torch.Tensor:
    """The next day [B] float64 in sales units of each window [B, N] (sales units, oldest first):
    the one way a `model.pt` (or the module it was scripted from) is run."""
    z, level, unit = normalize(windows, normalization)
    out = forward(model, z, level, unit, normalization["method"] == WINDOW_LEVEL)
    return denormalize(out, level, unit, bool(normalization.get("non_negative", False)))


def forecast_paths(
    model: torch.nn.Module,
    rows: Sequence[Sequence[float]] | torch.Tensor,
    stats: Mapping[str, Any],
    horizon: int,
) -> torch.Tensor:
    """[B, horizon] float64 forecasts in sales units: each later day from the window shifted by one
    day with the forecast appended (recursive forecasting, one batched `predict` per step)."""
    window = torch.as_tensor(rows, dtype=torch.float64)
    steps = []
    for _ in range(horizon):
        values = predict(model, window, stats["normalization"])
        steps.append(values)
        window = torch.cat([window[:, 1:], values.unsqueeze(1)], dim=1)
    if not steps:
        return torch.zeros(window.shape[0], 0, dtype=torch.float64)
    return torch.stack(steps, dim=1)


# ---- intervals and answers ----------------------------------------------------------------------


def window_scale(rows: torch.Tensor, method: str, floor: float) -> torch.Tensor:
    """[B] scale of each input window [B, N] for the intervals, never below `floor`: mean absolute
    day-to-day change (`diff`), week-on-week change (`msd`), deviation from the window's mean (`mad`),
    standard deviation (`std`), or 1 (`none`). training/intervals.py computes the same."""
    if method == "none":
        return torch.ones(rows.shape[0], dtype=torch.float64)
    if method == "diff":
        scale = (rows[:, 1:] - rows[:, :-1]).abs().mean(dim=1)
    elif method == "msd":
        lag = SEASON if rows.shape[1] > SEASON else 1
        scale = (rows[:, lag:] - rows[:, :-lag]).abs().mean(dim=1)
    elif method == "mad":
        scale = (rows - rows.mean(dim=1, keepdim=True)).abs().mean(dim=1)
    else:
        scale = rows.std(dim=1, unbiased=False)
    return scale.clamp(min=floor)


def calibrated_levels(calibration: Mapping[str, Any], levels: list[int]) -> list[int]:
    """Each asked level mapped to the nearest calibrated one (ties: the lower)."""
    calibrated: list[int] = calibration["levels"]
    return [min(calibrated, key=lambda known: (abs(known - level), known)) for level in levels]


def interval_scale(windows: torch.Tensor, calibration: Mapping[str, Any]) -> torch.Tensor:
    """[B] the calibration's scale of each input window [B, N]."""
    return window_scale(windows, calibration["scale"], float(calibration.get("scale_floor", 0.0)))


def interval_bounds(
    paths: torch.Tensor, windows: torch.Tensor, calibration: Mapping[str, Any], levels: list[int]
) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """(levels, lower [B, L, H], upper [B, L, H]) around `paths` [B, H] from the input `windows`
    [B, N]: each asked level maps to the nearest calibrated one."""
    chosen = calibrated_levels(calibration, levels)
    table = torch.as_tensor(calibration["quantiles"], dtype=torch.float64)  # [levels, steps]
    quantiles = table[[calibration["levels"].index(level) for level in chosen], : paths.shape[1]]  # [L, H]
    half = interval_scale(windows, calibration)[:, None, None] * quantiles[None, :, :]  # [B, L, H]
    lower = paths[:, None, :] - half
    if calibration.get("non_negative", True):
        lower = lower.clamp(min=0.0)
    return chosen, lower, paths[:, None, :] + half


def total_bounds(
    totals: torch.Tensor, days: int, windows: torch.Tensor, calibration: Mapping[str, Any], levels: list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(lower [B, L], upper [B, L]) around `totals` [B] of the first `days` days ahead of `windows`
    [B, N], at the calibrated `levels`: `total ± total_quantiles[level][days − 1] × scale(window)`.
    The total's own quantile, not the sum of the days' (per-day quantiles do not add up)."""
    table = torch.as_tensor(calibration["total_quantiles"], dtype=torch.float64)  # [levels, steps]
    quantiles = table[[calibration["levels"].index(level) for level in levels], days - 1]  # [L]
    half = interval_scale(windows, calibration)[:, None] * quantiles[None, :]  # [B, L]
    lower = totals[:, None] - half
    if calibration.get("non_negative", True):
        lower = lower.clamp(min=0.0)
    return lower, totals[:, None] + half


def total_answers(
    paths: torch.Tensor,
    windows: torch.Tensor,
    calibration: Mapping[str, Any] | None,
    levels: list[int],
    factors: torch.Tensor | None = None,
) -> list[dict[str, Any]]:
    """`{"days", "prediction", "intervals": [{"level", "lower", "upper"}]}` per row of `paths` [B, H]:
    the total of its H days with an interval per (calibrated) level; a version without intervals of
    totals answers the sum with `"note"` saying why instead of `"intervals"`. With calendar `factors`
    [B, H] the total is of the days multiplied back, its interval the adjusted total's scaled alike."""
    days = paths.shape[1]
    adjusted = paths.sum(dim=1)
    totals = adjusted if factors is None else (paths * factors).sum(dim=1)
    values: list[float] = totals.tolist()
    if calibration is None or calibration.get("total_quantiles") is None:
        note = TOTAL_WITHOUT_CALIBRATION if calibration is None else TOTAL_WITHOUT_INTERVALS
        return [{"days": days, "prediction": value, "note": note} for value in values]
    bounds = total_bounds(adjusted, days, windows, calibration, levels)
    if factors is not None:
        # the share the target days' factors give the total (their mean where the forecast is 0)
        ratio = torch.where(adjusted > 0, totals / adjusted.clamp(min=1e-12), factors.mean(dim=1))
        bounds = (bounds[0] * ratio[:, None], bounds[1] * ratio[:, None])
    lower, upper = (side.tolist() for side in bounds)
    return [
        {
            "days": days,
            "prediction": value,
            "intervals": [
                {"level": level, "lower": low, "upper": high}
                for level, low, high in zip(levels, lower[row], upper[row], strict=True)
            ],
        }
        for row, value in enumerate(values)
    ]


def format_steps(
    path: list[float], levels: list[int], lower: list[list[float]], upper: list[list[float]]
) -> list[dict[str, Any]]:
    """`[{"step", "prediction", "intervals": [{"level", "lower", "upper"}]}]` for one row; `lower` and
    `upper` are [levels][days]."""
    return [
        {
            "step": step,
            "prediction": value,
            "intervals": [
                {"level": level, "lower": low[step - 1], "upper": high[step - 1]}
                for level, low, high in zip(levels, lower, upper, strict=True)
            ],
        }
        for step, value in enumerate(path, start=1)
    ]


def answer_request(
    request: Request,
    paths: torch.Tensor,
    windows: torch.Tensor,
    stats: Mapping[str, Any],
    factors: torch.Tensor | None = None,
) -> tuple[int, dict[str, Any]]:
    """The (status, JSON answer) for one validated request from its input `windows` [rows, N] and
    forecasts `paths` [rows, ≥ horizon]; with horizon ≥ 2 also the total of the days (`total_answers`).
    With calendar `factors` [rows, ≥ horizon] the windows and paths are calendar-adjusted: the
    forecasts, their intervals and the total are multiplied back by the target days' factors."""
    form, _, horizon, asked, last_date = request
    paths = paths[:, :horizon]
    if factors is not None:
        factors = factors[:, :horizon]
    if not bool(torch.isfinite(paths).all()) or float(paths.abs().max()) > FLOAT32_MAX:
        return UNPROCESSABLE, {"error": "the model produced a non-finite prediction for these values"}
    calibration = stats.get("intervals")
    levels: list[int] = []
    if calibration is not None:
        levels = asked if asked is not None else list(calibration["default_levels"])
    path_lists: list[list[float]] = (paths if factors is None else paths * factors).tolist()
    if calibration is not None:
        levels = calibrated_levels(calibration, levels)
    if levels and calibration is not None:
        levels, lower_t, upper_t = interval_bounds(paths, windows, calibration, levels)
        if factors is not None:
            lower_t, upper_t = lower_t * factors[:, None, :], upper_t * factors[:, None, :]
        lower, upper = lower_t.tolist(), upper_t.tolist()
        steps = [format_steps(path, levels, lower[row], upper[row]) for row, path in enumerate(path_lists)]
    else:
        steps = [format_steps(path, [], [], []) for path in path_lists]
    meta = {
        "category": stats["category"],
        "model_version": str(stats["version"]),
        "window_size": stats["window_size"],
        "horizon": horizon,
    }
    totals = total_answers(paths, windows, calibration, levels, factors) if horizon >= 2 else None
    calendar_use = calendar_answer(stats.get("calendar"), last_date, horizon)
    if calendar_use is not None:
        meta["calendar"] = calendar_use
    if form == INSTANCES_FORM:
        answer = {"predictions": [path[0] for path in path_lists], "forecasts": steps, **meta}
        if totals is not None:
            answer["totals"] = totals
        return 200, answer
    answer = {"prediction": path_lists[0][0], "forecast": steps[0], **meta}
    if totals is not None:
        answer["total"] = totals[0]
    return 200, answer


def answer_batch(
    batch: Batch, paths: torch.Tensor, stats: Mapping[str, Any]
) -> list[tuple[int, dict[str, Any]]]:
    """(status, answer) of every request of `batch` from the forecasts `paths` [R, ≥ horizon] of its
    valid rows: a request that failed validation, or whose forecast is not finite, gets a 4xx and
    `{"error": message}`."""
    results: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    for item in batch.parsed:
        if isinstance(item, str):
            results.append((BAD_REQUEST, {"error": item}))
            continue
        end = offset + len(item[1])
        factors = None
        if batch.target_factors is not None and item[4] is not None:
            factors = batch.target_factors[offset:end]
        results.append(answer_request(item, paths[offset:end], batch.windows[offset:end], stats, factors))
        offset = end
    return results


def calendar_answer(
    block: Mapping[str, Any] | None, last_date: date | None, horizon: int
) -> dict[str, Any] | None:
    """`{"applied", "last_date", "note"}` of a version with calendar terms (or one sent a date it
    does not use); None when neither."""
    if block is None:
        return None if last_date is None else {"applied": False, "note": calendar_terms.NOT_TRAINED}
    if last_date is None:
        return {"applied": False, "note": calendar_terms.NOT_SENT}
    answer: dict[str, Any] = {"applied": True, "last_date": last_date.isoformat()}
    note = calendar_terms.coverage_note(block, last_date, horizon)
    if note is not None:
        answer["note"] = note
    return answer
