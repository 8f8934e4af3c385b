"""TorchServe handler: next-day sales of one category from its last N daily totals.

This file travels inside every `.mar` and must run in any TorchServe (or KServe) without salescast
installed, so it depends on torch, TorchServe and the standard library only. TorchServe requires
exactly one class per handler file and treats a module-level `handle` function as the entry point,
so the pure steps below are plain functions with other names; `ForecastHandler` only wires them.

Request bodies (bytes, str, or JSON TorchServe already parsed for `Content-Type: application/json`):
    {"sales": [N numbers]}             -> {"prediction": float, "category", "model_version", "window_size",
                                           "horizon", "forecast": [{"step", "prediction", "intervals"}]}
    {"instances": [[N numbers], ...]}  -> {"predictions": [floats], "forecasts": [[steps…] …], …}  (KServe v1)
Both take optional `"horizon"` (1..the version's max_horizon: later days come from feeding the
forecasts back) and `"levels"` (interval levels in percent; default the version's). An interval is
`forecast ± quantile(level, step) × scale(window)` from the manifest's conformal calibration.
A bad request in a batch gets its own 4xx (message as the reason); the rest of the batch is answered.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

logger = logging.getLogger(__name__)

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
INTERVAL_SCALES = ("none", "diff", "msd", "mad", "std")
SEASON = 7
MIN_LEVEL, MAX_LEVEL = 50, 99
NUMBER_TYPES = frozenset((int, float))


# ---- loading ------------------------------------------------------------------------------------


def load_norm_stats(path: Path) -> dict[str, Any]:
    """Read `norm_stats.json` and check the fields the handler relies on (std > 0, N >= 1)."""
    stats: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED_STATS if key not in stats]
    if missing:
        raise ValueError(f"{path.name} lacks {', '.join(missing)}")
    window_size = stats["window_size"]
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
        raise ValueError(f"{path.name}: window_size must be a positive integer, got {window_size!r}")
    for key in ("mean", "std"):
        value = stats[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{path.name}: {key} must be a finite number, got {value!r}")
    if stats["std"] <= 0:
        raise ValueError(f"{path.name}: std must be > 0, got {stats['std']!r}")
    stats.setdefault("model_input", "normalized")
    stats.setdefault("max_horizon", 1)
    if stats["model_input"] not in MODEL_INPUTS:
        raise ValueError(
            f"{path.name}: model_input must be one of {MODEL_INPUTS}, got {stats['model_input']!r}"
        )
    horizon = stats["max_horizon"]
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"{path.name}: max_horizon must be a positive integer, got {horizon!r}")
    if stats.get("intervals") is not None:
        check_intervals(stats["intervals"], path.name)
    return stats


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
    defaults = calibration.get("default_levels")
    if not isinstance(defaults, list) or not defaults or not set(defaults) <= set(levels):
        raise ValueError(f"{where}: intervals.default_levels must be calibrated levels")


def prepare_stats(stats: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest as the handler serves it: the interval quantile table (levels × days) turned
    into one float64 tensor at load, not on every request."""
    prepared = dict(stats)
    if prepared.get("intervals") is not None:
        table = torch.tensor(prepared["intervals"]["quantiles"], dtype=torch.float64)
        prepared["intervals"] = {**prepared["intervals"], "quantiles": table}
    return prepared


def load_model(path: Path) -> torch.nn.Module:
    """Load the TorchScript model on CPU in eval mode."""
    model: torch.nn.Module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    return model.eval()


# ---- the pure steps: parse -> validate -> normalize -> forward -> de-normalize --------------------


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


Request = tuple[str, list[list[float]], int, "list[int] | None"]
"""One validated request: (form, rows of N floats, days ahead, levels or None for the defaults). A
tuple, not a class: TorchServe requires exactly one class in a handler file."""


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
    return form, rows, parse_horizon(body.get("horizon"), stats), parse_levels(body.get("levels"), stats)


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


def normalize(rows: Sequence[Sequence[float]], mean: float, std: float) -> torch.Tensor:
    """[B, N] float32 model input `(x - mean) / std`, computed in float64 so only the result is rounded."""
    return ((torch.tensor(rows, dtype=torch.float64) - mean) / std).to(torch.float32)


def forward(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """One batched forward: [B, N] model inputs -> [B] next-day values (in the model's units)."""
    with torch.inference_mode():
        output: torch.Tensor = model(inputs)
    return output.reshape(-1)


def denormalize(outputs: torch.Tensor, mean: float, std: float) -> list[float]:
    """Model outputs back in sales units: `out * std + mean`."""
    values: list[float] = (outputs.to(torch.float64) * std + mean).tolist()
    return values


def forecast_paths(
    model: torch.nn.Module,
    rows: Sequence[Sequence[float]] | torch.Tensor,
    stats: Mapping[str, Any],
    horizon: int,
) -> torch.Tensor:
    """[B, horizon] float64 forecasts in sales units: each later day from the window shifted by one
    day with the forecast appended (recursive forecasting, one batched forward per step)."""
    window = torch.as_tensor(rows, dtype=torch.float64)
    mean, std = float(stats["mean"]), float(stats["std"])
    raw = stats["model_input"] == "raw"
    steps = []
    for _ in range(horizon):
        inputs = window.to(torch.float32) if raw else ((window - mean) / std).to(torch.float32)
        out = forward(model, inputs).to(torch.float64)
        values = out if raw else out * std + mean
        steps.append(values)
        window = torch.cat([window[:, 1:], values.unsqueeze(1)], dim=1)
    return torch.stack(steps, dim=1)


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


def interval_bounds(
    paths: torch.Tensor, windows: torch.Tensor, calibration: Mapping[str, Any], levels: list[int]
) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """(levels, lower [B, L, H], upper [B, L, H]) around `paths` [B, H] from the input `windows`
    [B, N]: each asked level maps to the nearest calibrated one."""
    calibrated: list[int] = calibration["levels"]
    chosen = [min(calibrated, key=lambda known: (abs(known - level), known)) for level in levels]
    table = torch.as_tensor(calibration["quantiles"], dtype=torch.float64)  # [levels, steps]
    quantiles = table[[calibrated.index(level) for level in chosen], : paths.shape[1]]  # [L, H]
    scale = window_scale(windows, calibration["scale"], float(calibration.get("scale_floor", 0.0)))
    half = scale[:, None, None] * quantiles[None, :, :]  # [B, L, H]
    lower = paths[:, None, :] - half
    if calibration.get("non_negative", True):
        lower = lower.clamp(min=0.0)
    return chosen, lower, paths[:, None, :] + half


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
    request: Request, paths: torch.Tensor, windows: torch.Tensor, stats: Mapping[str, Any]
) -> tuple[int, dict[str, Any]]:
    """The (status, JSON answer) for one validated request from its input `windows` [rows, N] and
    forecasts `paths` [rows, ≥ horizon]."""
    form, _, horizon, asked = request
    paths = paths[:, :horizon]
    if not bool(torch.isfinite(paths).all()) or float(paths.abs().max()) > FLOAT32_MAX:
        return UNPROCESSABLE, {"error": "the model produced a non-finite prediction for these values"}
    calibration = stats.get("intervals")
    levels: list[int] = []
    if calibration is not None:
        levels = asked if asked is not None else list(calibration["default_levels"])
    path_lists: list[list[float]] = paths.tolist()
    if levels and calibration is not None:
        levels, lower_t, upper_t = interval_bounds(paths, windows, calibration, levels)
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
    if form == INSTANCES_FORM:
        return 200, {"predictions": [path[0] for path in path_lists], "forecasts": steps, **meta}
    return 200, {"prediction": path_lists[0][0], "forecast": steps[0], **meta}


def predict_batch(
    model: torch.nn.Module, stats: Mapping[str, Any], requests: Sequence[Any]
) -> list[tuple[int, dict[str, Any]]]:
    """Answer every request of a TorchServe batch: a list of (status, answer).

    Every valid row of the batch goes through the model together (one batched forward per day
    ahead, up to the longest horizon asked). A request that fails validation, or whose forecast is
    not finite, gets a 4xx and `{"error": message}`; the others are answered normally.
    """
    parsed: list[Request | str] = []
    for raw in requests:
        try:
            parsed.append(parse_request(request_body(raw), stats))
        except ValueError as exc:
            parsed.append(str(exc))
    valid = [item for item in parsed if not isinstance(item, str)]
    rows = [row for item in valid for row in item[1]]
    horizon = max((item[2] for item in valid), default=0)
    windows = torch.tensor(rows, dtype=torch.float64) if rows else torch.zeros(0, 0, dtype=torch.float64)
    paths = forecast_paths(model, windows, stats, horizon) if rows else torch.zeros(0, 0)
    results: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    for item in parsed:
        if isinstance(item, str):
            results.append((BAD_REQUEST, {"error": item}))
            continue
        end = offset + len(item[1])
        results.append(answer_request(item, paths[offset:end], windows[offset:end], stats))
        offset = end
    return results


# ---- TorchServe wiring ----------------------------------------------------------------------------


class ForecastHandler(BaseHandler):  # type: ignore[misc]
    """Loads model.pt + norm_stats.json + metrics.json from the model dir; answers batches."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[str, Any] = {}
        self.metrics_summary: dict[str, Any] = {}

    def initialize(self, context: Any) -> None:
        # Workers share the CPU with each other and the JVM: one intra-op thread each.
        torch.set_num_threads(1)
        model_dir = Path(context.system_properties["model_dir"])
        self.manifest = context.manifest
        self.stats = prepare_stats(load_norm_stats(model_dir / NORM_STATS_FILE))
        metrics_path = model_dir / METRICS_FILE
        if metrics_path.is_file():
            self.metrics_summary = json.loads(metrics_path.read_text(encoding="utf-8"))
        self.model = load_model(model_dir / MODEL_FILE)
        self.initialized = True
        logger.info(
            "model loaded category=%s version=%s window_size=%s",
            self.stats["category"],
            self.stats["version"],
            self.stats["window_size"],
        )

    def handle(self, data: Sequence[Any], context: Any) -> list[Any]:
        start = time.perf_counter()
        self.context = context
        if self._is_describe():
            return [self.describe_handle()]
        answers = []
        for index, (status, answer) in enumerate(predict_batch(self.model, self.stats, data)):
            if status != 200:
                # Under an envelope one HTTP request may carry several rows: status only real requests.
                if index < len(context.request_processor or ()):
                    context.set_response_status(status, answer["error"], index)
                logger.info(
                    "request rejected category=%s version=%s status=%d reason=%s",
                    self.stats["category"],
                    self.stats["version"],
                    status,
                    answer["error"],
                )
            answers.append(answer)
        if context.metrics is not None:
            context.metrics.add_time(
                "HandlerTime", round((time.perf_counter() - start) * 1000, 2), None, "ms"
            )
        # TorchServe encodes a dict with json.dumps(indent=2), the pure-Python encoder: for 1000
        # windows that took longer than the model. Answers go out as compact JSON text instead —
        # except under a service envelope (KServe; bare instances come in), which builds its own
        # answer from the dicts.
        if all(isinstance(raw, Mapping) for raw in data):
            return [json.dumps(answer, separators=(",", ":")) for answer in answers]
        return answers

    def describe_handle(self) -> dict[str, Any]:
        """`GET /models/<name>?customized=true`: what this version is and how it scored."""
        return {
            "category": self.stats.get("category"),
            "model_version": str(self.stats.get("version")),
            "window_size": self.stats.get("window_size"),
            "train_end": self.stats.get("train_end"),
            "last_date": self.stats.get("last_date"),
            "metrics": self.metrics_summary.get("test", {}),
            "max_horizon": self.stats.get("max_horizon", 1),
            "interval_levels": (self.stats.get("intervals") or {}).get("default_levels", []),
            "backtest": self.metrics_summary.get("backtest"),
        }
