"""The scale bench's results per category count, as JSON (`to_dict`) and as the Markdown table
docs/benchmarks.md quotes (one column per size)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from salescast.bench.report import markdown_table
from salescast.bench.scale_measure import Latency, TreeMemory
from salescast.bench.scale_serving import Predictions
from salescast.bench.scale_ui import PageLoad


@dataclass
class TrainingCost:
    """One `salescast train --all` child process."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    training_s: float  # sum of the categories' own training seconds (from the job result)
    trained: int
    failed: dict[str, str] = field(default_factory=dict)

    def per_category(self, categories: int) -> dict[str, float]:
        return {
            "wall_s_per_category": round(self.wall_s / categories, 2),
            "cpu_s_per_category": round(self.cpu_s / categories, 2),
        }


@dataclass
class ServingCost:
    """TorchServe, the gateway and the UI serving the trained categories."""

    ready_s: float
    memory_at_ready: TreeMemory
    memory: TreeMemory  # after every category was asked
    predictions: Predictions
    hot_during_training: Latency | None  # the hot category while a training job (gateway.job_nice) runs
    training_job_s: float
    api_models_first_s: float
    api_models: Latency
    page_load: PageLoad

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("memory_at_ready", "memory"):
            out[key]["torchserve_mb"] = getattr(self, key).torchserve_mb
        out["page_load"]["median_s"] = self.page_load.median_s
        return out


@dataclass
class SizeResult:
    """Every measurement at one category count; `serving` is None when serving failed (why: in
    `serving_error`), so the training numbers of a size that does not fit in memory still count, or
    when it was not asked for (`serving_measured` False: `--training-only`)."""

    categories: int
    kinds: dict[str, int]
    data_rows: int
    training: TrainingCost
    serving: ServingCost | None
    serving_error: str | None = None
    serving_measured: bool = True

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["training"].update(self.training.per_category(self.categories))
        out["serving"] = self.serving.to_dict() if self.serving is not None else None
        return out


@dataclass
class ScaleReport:
    model: dict[str, Any]
    max_epochs: int
    sizes: list[SizeResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "max_epochs": self.max_epochs,
            "sizes": [size.to_dict() for size in self.sizes],
        }


def _latency(value: Latency | None) -> str:
    return "—" if value is None else f"{value.p50_ms:.1f} / {value.p99_ms:.1f}"


def _page(load: PageLoad) -> str:
    return f"{load.median_s:.2f}" if load.median_s is not None else f"n/a ({load.unavailable})"


def _served(cell: Callable[[ServingCost], str]) -> Callable[[SizeResult], str]:
    """A serving measurement's cell, `failed` when serving failed at that size, or `not measured`."""

    def shown(size: SizeResult) -> str:
        if size.serving is not None:
            return cell(size.serving)
        return "failed" if size.serving_measured else "not measured"

    return shown


_ROWS: list[tuple[str, Callable[[SizeResult], str]]] = [
    ("kinds (weekly / intermittent / launched / huge)", lambda s: " / ".join(map(str, s.kinds.values()))),
    ("`train --all` wall s per category", lambda s: f"{s.training.wall_s / s.categories:.1f}"),
    ("`train --all` CPU s per category", lambda s: f"{s.training.cpu_s / s.categories:.1f}"),
    ("`train --all` wall s (total)", lambda s: f"{s.training.wall_s:.0f}"),
    ("trained / failed categories", lambda s: f"{s.training.trained} / {len(s.training.failed)}"),
    ("peak RSS of training, MB", lambda s: f"{s.training.peak_rss_mb:.0f}"),
    ("TorchServe private MB (frontend + workers)", _served(lambda s: f"{s.memory.torchserve_mb:.0f}")),
    ("… of it the frontend JVM, MB", _served(lambda s: f"{s.memory.frontend_mb:.0f}")),
    ("… model workers (count)", _served(lambda s: f"{s.memory.workers_mb:.0f} ({s.memory.workers})")),
    ("`serve torchserve` → every category ready, s", _served(lambda s: f"{s.ready_s:.1f}")),
    ("hot prediction p50 / p99, ms", _served(lambda s: _latency(s.predictions.hot))),
    (
        "hot prediction p50 / p99 while cold ones load, ms",
        _served(lambda s: _latency(s.predictions.hot_during_loads)),
    ),
    ("cold prediction p50 / p99, ms", _served(lambda s: _latency(s.predictions.cold))),
    (
        "hot prediction p50 / p99 while a training job runs, ms",
        _served(lambda s: _latency(s.hot_during_training)),
    ),
    ("categories answered / served", _served(lambda s: f"{s.predictions.answered} / {s.predictions.asked}")),
    ("`GET /api/models` first call, ms", _served(lambda s: f"{s.api_models_first_s * 1000:.0f}")),
    ("`GET /api/models` p50 / p99, ms", _served(lambda s: _latency(s.api_models))),
    ("UI page load until the category picker is filled, s", _served(lambda s: _page(s.page_load))),
]


def scale_markdown(report: ScaleReport) -> str:
    """One row per measurement, one column per category count, and the notes the numbers need."""
    model = report.model
    headers = ["measurement", *(f"{size.categories} categories" for size in report.sizes)]
    rows = [[label, *(cell(size) for size in report.sizes)] for label, cell in _ROWS]
    notes = [
        f"Model: conv {model['conv_channels']} × kernel {model['kernel_size']}, LSTM {model['lstm_hidden']} "
        f"× {model['lstm_layers']}, {model['members']} member(s), ≤ {report.max_epochs} epochs",
        "",
        markdown_table(headers, rows),
        "",
    ]
    for size in report.sizes:
        notes += _size_notes(size)
    return "\n".join(notes) + "\n"


def _size_notes(size: SizeResult) -> list[str]:
    """What a size's numbers mean (hot, cold) and what went wrong there."""
    lines = []
    if size.serving is None and not size.serving_measured:
        lines.append(f"- {size.categories} categories: serving not measured (`--training-only`)")
    elif size.serving is None:
        lines.append(f"- {size.categories} categories: serving failed: {size.serving_error}")
    else:
        predictions = size.serving.predictions
        cold = (
            "cold = categories not loaded when asked"
            if predictions.cold_mode == "unloaded"
            else "every category was loaded at start, so cold = each category's first prediction after "
            "registration"
        )
        lines.append(f"- {size.categories} categories: {cold}; hot = `{predictions.hot_category}`.")
        if predictions.errors:
            first = "; ".join(f"{name}: {error}" for name, error in list(predictions.errors.items())[:3])
            lines.append(f"  Prediction errors: {len(predictions.errors)} ({first}).")
    failed = size.training.failed
    if failed:
        reasons = "; ".join(f"{name}: {error}" for name, error in list(failed.items())[:3])
        lines.append(f"  Not trained: {len(failed)} ({reasons}{' …' if len(failed) > 3 else ''}).")
    return lines
