"""TorchServe handler: the next days' sales of one category from its last N daily totals.

This file travels inside every `.mar` with `forecast_steps.py` (the pure steps: parse → validate →
normalize → forward → de-normalize → answer), `request_parsing.py`, `version_stats.py` and
`calendar_terms.py`, and must run in any TorchServe (or KServe) without
salescast installed: torch, TorchServe and the standard library only. TorchServe requires exactly
one class per handler file and takes a module-level `handle` function as the entry point, so the
class below only wires the steps into `BaseHandler`, whose `handle` keeps the describe branch and
the `HandlerTime` metric.

Request bodies (bytes, str, or JSON TorchServe already parsed for `Content-Type: application/json`):
    {"sales": [N numbers]}             -> {"prediction": float, "category", "model_version", "window_size",
                                           "horizon", "forecast": [{"step", "prediction", "intervals"}]}
    {"instances": [[N numbers], ...]}  -> {"predictions": [floats], "forecasts": [[steps…] …], …}  (KServe v1)
Both take optional `"horizon"` (1..the version's max_horizon: later days come from feeding the
forecasts back) and `"levels"` (interval levels in percent; default the version's). An interval is
`forecast ± quantile(level, step) × scale(window)` from the manifest's conformal calibration.
With horizon ≥ 2 the answer also holds the total of the days, `"total"` (`"totals"`, one per
instance): `{"days", "prediction", "intervals"}` from the manifest's own quantiles of totals, or
`{"days", "prediction", "note"}` when the version has none (calibrated before them).
A bad request in a batch gets its own 4xx (message as the reason); the rest of the batch is answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from ts.torch_handler.base_handler import BaseHandler

if TYPE_CHECKING:
    from handlers import forecast_steps as steps
    from handlers import request_parsing, version_stats
else:
    try:  # inside a .mar: the archive's own copies (TorchServe puts the model dir on sys.path)
        import forecast_steps as steps
        import request_parsing
        import version_stats
    except ModuleNotFoundError as missing:  # in the repository (tests, the bench)
        if missing.name not in {"forecast_steps", "request_parsing", "version_stats"}:
            raise
        from handlers import forecast_steps as steps
        from handlers import request_parsing, version_stats

logger = logging.getLogger(__name__)


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
        self.stats = steps.load_norm_stats(model_dir / steps.NORM_STATS_FILE)
        self.metrics_summary = version_stats.read_metrics_summary(model_dir / steps.METRICS_FILE)
        self.model: torch.nn.Module = steps.load_model(model_dir / steps.MODEL_FILE)
        self.initialized = True
        logger.info(
            "model loaded category=%s version=%s window_size=%s normalization=%s",
            self.stats["category"],
            self.stats["version"],
            self.stats["window_size"],
            self.stats["normalization"]["method"],
        )

    def preprocess(self, data: Sequence[Any]) -> request_parsing.Batch:
        """Every request validated; the valid rows stacked into one [R, N] tensor."""
        return request_parsing.parse_batch(data, self.stats)

    def inference(
        self, data: request_parsing.Batch, *args: Any, **kwargs: Any
    ) -> tuple[request_parsing.Batch, torch.Tensor]:
        """All rows together, one batched normalize → forward → de-normalize per day ahead."""
        return data, steps.forecast_paths(self.model, data.windows, self.stats, data.horizon, data.weekdays)

    def postprocess(self, data: tuple[request_parsing.Batch, torch.Tensor]) -> list[Any]:
        """Intervals and answers; a bad request gets its own status."""
        batch, paths = data
        answers = []
        for index, (status, answer) in enumerate(steps.answer_batch(batch, paths, self.stats)):
            if status != 200:
                # Under an envelope one HTTP request may carry several rows: status only real requests.
                if index < len(self.context.request_processor or ()):
                    self.context.set_response_status(status, answer["error"], index)
                logger.info(
                    "request rejected category=%s version=%s status=%d reason=%s",
                    self.stats["category"],
                    self.stats["version"],
                    status,
                    answer["error"],
                )
            answers.append(answer)
        # TorchServe encodes a dict with json.dumps(indent=2), the pure-Python encoder: for 1000
        # windows that took longer than the model. Answers go out as compact JSON text instead.
        if batch.as_text:
            return [json.dumps(answer, separators=(",", ":")) for answer in answers]
        return answers

    def describe_handle(self) -> dict[str, Any]:
        """`GET /models/<name>?customized=true`: what this version is and how it scored."""
        return version_stats.describe(self.stats, self.metrics_summary)
