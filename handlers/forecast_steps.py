"""The handler's pure steps, and the one way to load and run a `model.pt`.

parse → validate → normalize → forward → de-normalize → intervals → answer, as plain functions over
torch tensors; a request is read and validated by `request_parsing`, a version's manifest checked
at load by `version_stats` (then prepared here). These modules depend on torch and the standard
library only: they travel inside every `.mar` beside `forecast_handler.py` (`--extra-files`), so an archive
runs in any TorchServe or KServe without salescast installed. Training, the bench and the tests
load and run models through `load_model` and `predict` here too (a test fails if any other module
calls `torch.jit.load`), so a served forecast and an evaluated one come from the same code.

What `norm_stats.json` says the model takes (`normalization` below is the handler's view of it):
- `format_version` 2, `normalization.method` "window_level": per window x of N days,
  `level = max(mean(x), level_floor)`, `unit = level × cv`, `z = (x − level) / unit`;
  `model(z, level, unit)` returns the next day in the same scaled units, `y = level + unit × out`,
  clamped at 0 when `non_negative`.
- `format_version` 3: the same, and `model(z, level, unit, weekday)` also takes the weekday of the
  day forecast (`[B]` int64, Monday 0, `calendar_terms.WEEKDAY_UNKNOWN` for a row whose request
  sent no `last_date`) when a row of the batch has a date.
- no `format_version` (archives made before it), `model_input` "normalized": `z = (x − mean) / std`,
  `model(z)`, `y = mean + std × out`.
- no `format_version`, `model_input` "raw": `model(x)` returns y; the model scales inside.
The three are one formula with (level, unit) = (window's, window's), (mean, std) or (0, 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from handlers import calendar_terms, request_parsing, version_stats
else:
    try:  # inside a .mar: the archive's own copies (TorchServe puts the model dir on sys.path)
        import calendar_terms
        import request_parsing
        import version_stats
    except ModuleNotFoundError as missing:  # in the repository
        if missing.name not in {"calendar_terms", "request_parsing", "version_stats"}:
            raise
        from handlers import calendar_terms, request_parsing, version_stats

MODEL_FILE = "model.pt"
NORM_STATS_FILE = "norm_stats.json"
METRICS_FILE = "metrics.json"
BAD_REQUEST = 400
UNPROCESSABLE = 422
SEASON = 7
LEVEL_SHARE_RANGE = (0.1, 10.0)  # core.contracts.manifest's (a test checks it)
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
    """Read `norm_stats.json`, check the fields the handler relies on (`version_stats.read_norm_stats`)
    and prepare it for serving (`prepare_stats`). ValueError names the file and the field."""
    return prepare_stats(version_stats.read_norm_stats(path))


def prepare_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as the handler serves it: `normalization` says what is applied whatever the
    format version (see the module docstring), and the interval quantile tables (levels × days, of
    single days and of totals) are float64 tensors made at load, not on every request."""
    prepared = dict(stats)
    if prepared.get("format_version", 1) < 2:
        if prepared.get("model_input") == "raw":
            prepared["normalization"] = {"method": version_stats.NONE, "non_negative": False}
        else:
            prepared["normalization"] = {
                "method": version_stats.GLOBAL,
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


# ---- normalize -> forward -> de-normalize -------------------------------------------------------


def normalize(
    windows: torch.Tensor, normalization: Mapping[str, Any]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z [B, N] float32, level [B], unit [B] float64) with `z = (x − level) / unit`, for the whole
    batch [B, N] float64 at once; computed in float64 so only z is rounded (see the module docstring
    for level and unit of each method)."""
    method = normalization["method"]
    if method == version_stats.WINDOW_LEVEL:
        level = windows.mean(dim=1).clamp(min=float(normalization["level_floor"]))
        unit = level * float(normalization["cv"])
    elif method == version_stats.GLOBAL:
        level = torch.full((windows.shape[0],), float(normalization["mean"]), dtype=torch.float64)
        unit = torch.full((windows.shape[0],), float(normalization["std"]), dtype=torch.float64)
    else:
        level = torch.zeros(windows.shape[0], dtype=torch.float64)
        unit = torch.ones(windows.shape[0], dtype=torch.float64)
    z = ((windows - level.unsqueeze(1)) / unit.unsqueeze(1)).to(torch.float32)
    return z, level, unit


def forward(
    model: torch.nn.Module,
    z: torch.Tensor,
    level: torch.Tensor,
    unit: torch.Tensor,
    scaled: bool,
    weekdays: torch.Tensor | None = None,
) -> torch.Tensor:
    """One batched forward: `model(z, level, unit)` when the model takes the window's scale
    (`scaled`), with `weekdays` [B] too when given (format 3), else `model(z)`; returns [B] in the
    model's units."""
    with torch.inference_mode():
        if not scaled:
            output: torch.Tensor = model(z)
        elif weekdays is None:
            output = model(z, level.to(torch.float32), unit.to(torch.float32))
        else:
            output = model(z, level.to(torch.float32), unit.to(torch.float32), weekdays)
    return output.reshape(-1)


def denormalize(
    outputs: torch.Tensor, level: torch.Tensor, unit: torch.Tensor, non_negative: bool
) -> torch.Tensor:
    """[B] float64 sales: `level + unit × out`, never below 0 when `non_negative`."""
    values = level + unit * outputs.to(torch.float64)
    return values.clamp(min=0.0) if non_negative else values


def predict(
    model: torch.nn.Module,
    windows: torch.Tensor,
    normalization: Mapping[str, Any],
    weekdays: torch.Tensor | None = None,
) -> torch.Tensor:
    """The next day [B] float64 in sales units of each window [B, N] (sales units, oldest first),
    `weekdays` [B] of the days forecast passed to a format 3 model: the one way a `model.pt` (or the
    module it was scripted from) is run."""
    z, level, unit = normalize(windows, normalization)
    scaled = normalization["method"] == version_stats.WINDOW_LEVEL
    out = forward(model, z, level, unit, scaled, weekdays)
    return denormalize(out, level, unit, bool(normalization.get("non_negative", False)))


def forecast_paths(
    model: torch.nn.Module,
    rows: Sequence[Sequence[float]] | torch.Tensor,
    stats: Mapping[str, Any],
    horizon: int,
    weekdays: torch.Tensor | None = None,
) -> torch.Tensor:
    """[B, horizon] float64 forecasts in sales units: each later day from the window shifted by one
    day with the forecast appended (recursive forecasting, one batched `predict` per step);
    `weekdays` [B] of the first day ahead (negative where not known) move on a day a step.
    A version before format 3 is given none."""
    window = torch.as_tensor(rows, dtype=torch.float64)
    if not version_stats.reads_weekday(stats):
        weekdays = None
    steps = []
    for step in range(horizon):
        days = None
        if weekdays is not None:
            days = torch.where(weekdays >= 0, torch.remainder(weekdays + step, SEASON), weekdays)
        values = predict(model, window, stats["normalization"], days)
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


def level_share(paths: torch.Tensor, windows: torch.Tensor, exponent: float) -> torch.Tensor:
    """[B, H] factor of each day's interval: (forecast / its window's mean) ** `exponent`, the share
    clipped to `LEVEL_SHARE_RANGE`, 1 where the window sold nothing. training/intervals.py the same."""
    mean = windows.to(torch.float64).mean(dim=1, keepdim=True)
    share = torch.where(mean > 0, paths.to(torch.float64) / mean.clamp(min=1e-12), 1.0)
    return share.clamp(*LEVEL_SHARE_RANGE) ** exponent


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
    [B, N]: each asked level maps to the nearest calibrated one; each day's width also follows its
    forecast's share of the window's level (`level_share`, exponent 0 in versions calibrated before it)."""
    chosen = calibrated_levels(calibration, levels)
    table = torch.as_tensor(calibration["quantiles"], dtype=torch.float64)  # [levels, steps]
    quantiles = table[[calibration["levels"].index(level) for level in chosen], : paths.shape[1]]  # [L, H]
    width = interval_scale(windows, calibration)[:, None] * level_share(
        paths, windows, float(calibration.get("level_exponent", 0.0))
    )  # [B, H]
    half = width[:, None, :] * quantiles[None, :, :]  # [B, L, H]
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
    request: request_parsing.Request,
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
    if not bool(torch.isfinite(paths).all()) or float(paths.abs().max()) > request_parsing.FLOAT32_MAX:
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
    reads_weekday = version_stats.reads_weekday(stats)
    calendar_use = calendar_answer(stats.get("calendar"), last_date, horizon, reads_weekday)
    if calendar_use is not None:
        meta["calendar"] = calendar_use
    if form == request_parsing.INSTANCES_FORM:
        answer = {"predictions": [path[0] for path in path_lists], "forecasts": steps, **meta}
        if totals is not None:
            answer["totals"] = totals
        return 200, answer
    answer = {"prediction": path_lists[0][0], "forecast": steps[0], **meta}
    if totals is not None:
        answer["total"] = totals[0]
    return 200, answer


def answer_batch(
    batch: request_parsing.Batch, paths: torch.Tensor, stats: Mapping[str, Any]
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
    block: Mapping[str, Any] | None, last_date: date | None, horizon: int, reads_weekday: bool = False
) -> dict[str, Any] | None:
    """`{"applied", "last_date", "uses", "note"}` of a version with calendar terms or one whose model
    reads the weekday (`reads_weekday`: format 3), or one sent a date it does not use; None when none
    of these. `uses` names what the date drove (`calendar_terms.date_uses`). The note says when no
    date was sent (the weekday then comes from the window's pattern), when the days ahead lie past
    the holidays the version knows, and which of them it forecasts as closed."""
    if last_date is None:
        unsent = [calendar_terms.NOT_SENT] if block is not None else []
        if reads_weekday:
            unsent.append(calendar_terms.WEEKDAY_NOT_SENT)
        return {"applied": False, "note": "; ".join(unsent)} if unsent else None
    if block is None and not reads_weekday:
        return {"applied": False, "note": calendar_terms.NOT_TRAINED}
    answer: dict[str, Any] = {
        "applied": True,
        "last_date": last_date.isoformat(),
        "uses": calendar_terms.date_uses(block, reads_weekday),
    }
    if block is None:
        return answer
    notes = (
        calendar_terms.coverage_note(block, last_date, horizon),
        calendar_terms.closed_note(block, last_date, horizon),
    )
    if any(notes):
        answer["note"] = "; ".join(note for note in notes if note)
    return answer
