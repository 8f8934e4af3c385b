"""Bench output: Markdown tables (what docs/benchmarks.md quotes), JSON and plots, written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from salescast.bench.accuracy import MODEL, AccuracyReport, metric_rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column is left-aligned, the rest right-aligned."""
    align = [":--" if i == 0 else "--:" for i in range(len(headers))]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def write_text_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, payload: Any) -> Path:
    """JSON has no NaN: non-finite floats are written as null."""
    return write_text_atomic(path, json.dumps(_finite(payload), indent=2) + "\n")


def accuracy_markdown(report: AccuracyReport) -> str:
    headers = ["method", "RMSE", "RMSSE", "MAE", "sMAPE %", "MASE"]
    parts = [
        f"Data: `{report.data_file}` · {report.folds} folds × {report.fold_days} days · "
        f"window {report.window_size}",
        "",
        "**Overall** (mean over categories; compare RMSSE/MASE/sMAPE across categories) — "
        f"model RMSE / best baseline RMSE: **{report.overall_ratio():.3f}**",
        "",
        markdown_table(headers, metric_rows(report.overall(), report.methods)),
    ]
    for category in report.categories:
        methods = [m for m in report.methods if m in category.metrics]
        parts += [
            "",
            f"**{category.category}** ({category.dates[0].date()} … {category.dates[-1].date()}): "
            f"model RMSE / best baseline ({category.best_baseline}) = **{category.rmse_ratio:.3f}**",
            "",
            markdown_table(headers, metric_rows(category.metrics, methods)),
        ]
        for fold, message in category.errors.items():
            parts.append(f"\n_{fold}: {message}_")
    return "\n".join(parts) + "\n"


def plot_accuracy(report: AccuracyReport, path: Path) -> Path:
    """One panel per category: actual sales over the folds, the model and the best baseline, cut-offs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(report.categories)
    fig, axes = plt.subplots(count, 1, figsize=(9, 2.4 * count), squeeze=False, sharex=False)
    for ax, category in zip(axes[:, 0], report.categories, strict=True):
        best = category.best_baseline
        ax.plot(category.dates, category.actual, color="black", linewidth=1.0, label="actual")
        ax.plot(category.dates, category.forecasts[MODEL], color="tab:blue", linewidth=1.0, label="CNN-LSTM")
        ax.plot(
            category.dates, category.forecasts[best], color="tab:orange", linewidth=1.0, alpha=0.8, label=best
        )
        for cutoff in category.cutoffs:
            ax.axvline(np.datetime64(cutoff), color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(f"{category.category} · RMSE ratio {category.rmse_ratio:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left", ncols=3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value
