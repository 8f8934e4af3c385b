"""Bench output: Markdown tables (what docs/benchmarks.md quotes), JSON and plots, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from salescast.bench.accuracy import (
    HORIZONS,
    KNOWN_LEVEL_DAYS,
    REFERENCES,
    AccuracyReport,
    CategoryAccuracy,
    metric_rows,
)
from salescast.bench.targets import targets_markdown


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first column is left-aligned, the rest right-aligned."""
    align = [":--" if i == 0 else "--:" for i in range(len(headers))]
    lines = [headers, align, *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def accuracy_markdown(report: AccuracyReport) -> str:
    """The tables docs/benchmarks.md quotes: RMSE by horizon, model/best (mean ± sd over seeds) and
    interval coverage, overall and per category, then every metric one day ahead."""
    seeds = ", ".join(str(seed) for seed in report.seeds)
    parts = [
        f"Data: `{report.data_file}` · {report.folds} folds × {report.fold_days} days · "
        f"window {report.window_size} · seeds {seeds}",
        "",
        "**Overall** (RMSE: mean over categories; model: mean ± sd over seeds)",
        "",
        f"_known level: not a forecast — the level of the {KNOWN_LEVEL_DAYS} days either side of each "
        "target (the future included) × the weekday profile of the whole series, over the best reference: "
        "how far below it knowing the level would go without calendar terms_",
        *_optimum_note(report),
        "",
        markdown_table(*_summary_rows(report)),
        "",
        _kupiec_line(report),
        "",
        _total_line(report),
        "",
        "**Targets** (issue 23's, fixed in advance: ≤ 0.97 × the best reference where it beats MA14 by "
        "≥ 5 %, else ≤ 1.00; every category ≤ 1.02 × MA14; coverage within ±3 points)",
        "",
        targets_markdown([(Path(report.data_file).name, report.to_dict())]),
        *_headroom_table(report),
    ]
    for category in report.categories:
        parts += [
            "",
            f"**{category.category}** ({category.dates[1][0].date()} … {category.dates[1][-1].date()})",
            "",
            markdown_table(*_category_rows(category)),
        ]
        for fold, message in category.errors.items():
            parts.append(f"\n_{fold}: {message}_")
    parts += ["", _day_kinds_table(report)]
    parts += ["", "**Every metric, one day ahead** (model: mean over seeds)"]
    headers = ["category / method", "RMSE", "RMSSE", "MAE", "sMAPE %", "MASE", "WAPE %", "bias"]
    rows: list[list[str]] = []
    for category in report.categories:
        metrics = category.metrics()
        rows += [[f"{category.category} · {row[0]}", *row[1:]] for row in metric_rows(metrics, list(metrics))]
    parts += ["", markdown_table(headers, rows)]
    return "\n".join(parts) + "\n"


def _optimum_note(report: AccuracyReport) -> list[str]:
    if report.overall_optimum(1) is None:
        return []
    return [
        "",
        "_optimum: not a forecast — each target day's expected sales given the generator's own parameters "
        "and hidden state (this file is a generated profile), over the best reference: what no forecaster "
        "can be expected to beat_",
    ]


def _optimum_cells(ratio: float | None, shown: bool) -> list[str]:
    """The optimum column's cell where the report has one (`shown`), else no cell."""
    if not shown:
        return []
    return ["—" if ratio is None else f"{ratio:.3f}"]


def _summary_rows(report: AccuracyReport) -> tuple[list[str], list[list[str]]]:
    shown = report.overall_optimum(1) is not None
    headers = ["horizon", *REFERENCES, "CNN-LSTM", "model / best", "known level"]
    headers += [*(["optimum"] if shown else []), "coverage", "pinball"]
    rows = []
    for h in HORIZONS:
        refs = report.overall_rmse(h)
        model = report.overall_model_rmse(h)
        rows.append(
            [
                f"h={h}",
                *(_number(refs.get(name)) for name in REFERENCES),
                _pm(model),
                f"{_pm(report.overall_ratios(h), 3)} ({report.best_reference(h)})",
                f"{report.overall_known_level(h):.3f}",
                *_optimum_cells(report.overall_optimum(h), shown),
                _coverage(report.coverage(h)),
                _number(report.interval_scores(h)["pinball"]),
            ]
        )
    return headers, rows


def _category_rows(category: CategoryAccuracy) -> tuple[list[str], list[list[str]]]:
    shown = category.optimum(1) is not None
    headers = [
        "horizon",
        *REFERENCES,
        "CNN-LSTM",
        "model / best",
        "model / ma14",
        "known level",
        *(["optimum"] if shown else []),
        "coverage",
        "pinball",
    ]
    rows = []
    for h in HORIZONS:
        refs = category.reference_rmse(h)
        rows.append(
            [
                f"h={h}",
                *(_number(refs.get(name)) for name in REFERENCES),
                _pm(category.model_rmse(h)),
                f"{_pm(category.ratios(h), 3)} ({category.best_reference(h)})",
                _pm(category.ratios(h, "ma14"), 3),
                f"{category.known_level(h):.3f}",
                *_optimum_cells(category.optimum(h), shown),
                _coverage(category.mean_coverage(h), category.kupiec(h)),
                _number(category.mean_interval_scores(h)["pinball"]),
            ]
        )
    return headers, rows


def _kupiec_line(report: AccuracyReport) -> str:
    """How many categories' coverage Kupiec's test rejects at 5 %, per horizon and level."""
    total = len(report.categories)
    parts = [
        f"h={h}: "
        + ", ".join(f"{level} % {count}/{total}" for level, count in report.kupiec_rejected(h).items())
        for h in HORIZONS
    ]
    return "Categories whose interval coverage Kupiec's test rejects (p < 0.05): " + " · ".join(parts)


def _total_line(report: AccuracyReport) -> str:
    """Coverage of the longest horizon's total (the week a user orders for), mean over categories."""
    days = max(HORIZONS)
    scores = report.interval_scores(days)
    levels = [key.removeprefix("total_coverage_") for key in scores if key.startswith("total_coverage_")]
    return f"Coverage of the {days}-day total's own interval: " + " · ".join(
        f"{level}%: {scores[f'total_coverage_{level}']:.1f}" for level in levels
    )


def _headroom_table(report: AccuracyReport) -> list[str]:
    """The model blended with each statistical reference, shares chosen on the scored days: an upper
    bound on what an ensemble of them could give (`salescast.bench.blend_headroom`); nothing without
    the statistical references."""
    found = {h: {entry.partner: entry for entry in report.blend_headroom(h)} for h in HORIZONS}
    partners = [partner for partner in found[HORIZONS[0]] if all(partner in found[h] for h in HORIZONS)]
    if not partners:
        return []
    headers = ["blended with"]
    for h in HORIZONS:
        headers += [f"h={h}: model's share", f"h={h}: model / best", f"h={h}: with each category's share"]
    rows = [
        [
            partner,
            *(
                cell
                for h in HORIZONS
                for cell in (
                    f"{found[h][partner].model_share:.2f}",
                    f"{found[h][partner].model_to_best:.3f}",
                    f"{found[h][partner].per_category_model_to_best:.3f}",
                )
            ),
        ]
        for partner in partners
    ]
    title = (
        "**Blend headroom** (not a forecaster: the model blended with the statistical references, the "
        "model's share chosen on the very days scored, for the whole file or per category; no ensemble "
        "of them weighted on a validation tail can do better; model / best as above, mean over seeds)"
    )
    return ["", title, "", markdown_table(headers, rows)]


def _day_kinds_table(report: AccuracyReport) -> str:
    """Per category, one day ahead: model / best reference and the model's bias on public holidays,
    in Nov–Dec and on the other days (where the window alone cannot see what is coming)."""
    kinds = {"holidays": "public holidays", "nov_dec": "Nov–Dec", "rest": "other days"}
    rows = []
    for category in report.categories:
        found = category.by_day_kind(1, report.holiday_country)
        rows.append(
            [
                category.category,
                *(
                    f"{found[kind]['model_to_reference']:.3f} ({found[kind]['bias_percent']:+.0f} %, "
                    f"{found[kind]['days']} d)"
                    if kind in found
                    else "—"
                    for kind in kinds
                ),
            ]
        )
    title = (
        f"**By kind of target day, one day ahead** (model / best reference, model's bias, days; "
        f"holidays of {report.holiday_country})"
    )
    return title + "\n\n" + markdown_table(["category", *kinds.values()], rows)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _pm(values: Sequence[float], digits: int = 1) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def _coverage(levels: dict[str, float], kupiec: dict[str, float] | None = None) -> str:
    """`80%: 82.6 · 95%: 93.6`, with each level's Kupiec p-value when given (`(p 0.41)`)."""
    return " · ".join(
        f"{level}%: {value:.1f}" + (f" (p {kupiec[level]:.2f})" if kupiec is not None else "")
        for level, value in levels.items()
    )


def plot_accuracy(report: AccuracyReport, path: Path) -> Path:
    """One panel per category: actual sales over the folds, the model (first seed, one day ahead) and
    the best reference, with the cut-offs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(report.categories)
    fig, axes = plt.subplots(count, 1, figsize=(9, 2.4 * count), squeeze=False, sharex=False)
    for ax, category in zip(axes[:, 0], report.categories, strict=True):
        best = category.best_reference(1)
        dates, actual = category.dates[1], category.actual[1]
        ax.plot(dates, actual, color="black", linewidth=1.0, label="actual")
        ax.plot(dates, category.model[1][0], color="tab:blue", linewidth=1.0, label="CNN-LSTM")
        ax.plot(dates, category.references[1][best], color="tab:orange", linewidth=1.0, alpha=0.8, label=best)
        for cutoff in category.cutoffs:
            ax.axvline(np.datetime64(cutoff), color="grey", linestyle=":", linewidth=0.8)
        ratio = float(np.mean(category.ratios(1)))
        ax.set_title(f"{category.category} · model / {best} {ratio:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left", ncols=3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return path
