"""Bench output: Markdown tables (what docs/benchmarks.md quotes), JSON and plots, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from salescast.bench.accuracy import MODEL, AccuracyReport, metric_rows


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column is left-aligned, the rest right-aligned."""
    align = [":--" if i == 0 else "--:" for i in range(len(headers))]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return path
