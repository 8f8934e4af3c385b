"""TorchServe handler: next-day sales of one category from its last N daily totals.

This file travels inside every `.mar` and must run in any TorchServe (or KServe) without salescast
installed, so it depends on torch, TorchServe and the standard library only. TorchServe requires
exactly one class per handler file and treats a module-level `handle` function as the entry point,
so the pure steps below are plain functions with other names; `ForecastHandler` only wires them.

Request bodies (bytes, str, or JSON TorchServe already parsed for `Content-Type: application/json`):
    {"sales": [N numbers]}                -> {"prediction": float, "category", "model_version", "window_size"}
    {"instances": [[N numbers], ...]}     -> {"predictions": [floats], "category", ...}   (KServe v1)
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
    return stats


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


def parse_request(body: Any, window_size: int) -> tuple[str, list[list[float]]]:
    """Validate one request body; returns its form (`sales`/`instances`) and its rows of N floats.

    Raises ValueError with a message meant for the client ("expected 14 values, got 3").
    """
    if isinstance(body, Mapping) and SALES_FORM in body:
        return SALES_FORM, [validate_values(body[SALES_FORM], window_size)]
    if isinstance(body, Mapping) and INSTANCES_FORM in body:
        instances = body[INSTANCES_FORM]
        if not isinstance(instances, list) or not instances:
            raise ValueError(f'"instances" must be a non-empty list of lists of {window_size} numbers')
        rows = []
        for index, values in enumerate(instances):
            try:
                rows.append(validate_values(values, window_size))
            except ValueError as exc:
                raise ValueError(f"instance {index}: {exc}") from None
        return INSTANCES_FORM, rows
    raise ValueError(
        f'expected a JSON object {{"sales": [{window_size} numbers]}} '
        f'or {{"instances": [[{window_size} numbers], ...]}}'
    )


def validate_values(values: Any, window_size: int) -> list[float]:
    """Exactly `window_size` finite numbers that fit in float32 (1e308 is finite only in float64)."""
    if not isinstance(values, list):
        raise ValueError(f"expected a list of {window_size} numbers, got {type(values).__name__}")
    if len(values) != window_size:
        raise ValueError(f"expected {window_size} values, got {len(values)}")
    checked = []
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value at position {position} is not a number: {value!r}")
        number = float(value)
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
    """One batched forward: [B, N] normalized sales -> [B] normalized next-day values."""
    with torch.inference_mode():
        output: torch.Tensor = model(inputs)
    return output.reshape(-1)


def denormalize(outputs: torch.Tensor, mean: float, std: float) -> list[float]:
    """Model outputs back in sales units: `out * std + mean`."""
    values: list[float] = (outputs.to(torch.float64) * std + mean).tolist()
    return values


def format_answer(form: str, predictions: list[float], stats: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON answer for one request."""
    meta = {
        "category": stats["category"],
        "model_version": str(stats["version"]),
        "window_size": stats["window_size"],
    }
    if form == INSTANCES_FORM:
        return {"predictions": predictions, **meta}
    return {"prediction": predictions[0], **meta}


def predict_batch(
    model: torch.nn.Module, stats: Mapping[str, Any], requests: Sequence[Any]
) -> list[tuple[int, dict[str, Any]]]:
    """Answer every request of a TorchServe batch with one forward: a list of (status, answer).

    A request that fails validation, or whose prediction is not finite, gets a 4xx and
    `{"error": message}`; the others are answered normally.
    """
    window_size = int(stats["window_size"])
    mean, std = float(stats["mean"]), float(stats["std"])
    parsed: list[tuple[str, list[list[float]]] | str] = []
    for request in requests:
        try:
            parsed.append(parse_request(request_body(request), window_size))
        except ValueError as exc:
            parsed.append(str(exc))
    rows = [row for item in parsed if not isinstance(item, str) for row in item[1]]
    predictions = denormalize(forward(model, normalize(rows, mean, std)), mean, std) if rows else []
    results: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    for item in parsed:
        if isinstance(item, str):
            results.append((BAD_REQUEST, {"error": item}))
            continue
        form, item_rows = item
        values = predictions[offset : offset + len(item_rows)]
        offset += len(item_rows)
        if all(math.isfinite(value) and abs(value) <= FLOAT32_MAX for value in values):
            results.append((200, format_answer(form, values, stats)))
        else:
            message = "the model produced a non-finite prediction for these values"
            results.append((UNPROCESSABLE, {"error": message}))
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
        self.stats = load_norm_stats(model_dir / NORM_STATS_FILE)
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

    def handle(self, data: Sequence[Any], context: Any) -> list[dict[str, Any]]:
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
        }
