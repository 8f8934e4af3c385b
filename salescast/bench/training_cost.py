"""`salescast bench training`: wall time and peak memory of `salescast train`, per epoch and in total.

Each measurement runs `python -m salescast train` as a child process on isolated paths (artifacts
and MLflow in the work folder; early stopping disabled so every run does the same number of epochs)
and samples the RSS of the child and its descendants for the peak. Per-epoch time comes from the
timestamps of the training log's `epoch` lines. Runs: one category and all categories of the sample
data, then one category on generated histories of each length in `years`.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from core import supervisor
from core.contracts.files import ContractError
from core.contracts.job_result import read_results
from core.errors import SalescastError
from core.sample_data import ensure_sample_data, write_sample
from core.settings import Settings
from salescast.bench.isolation import isolated_settings
from salescast.bench.report import markdown_table
from training.pipeline import available_categories

Progress = Callable[[str], None]
_STAMP = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) "
_STARTED = re.compile(_STAMP + r".*training started category=(.+?) version=\S+ days=(\d+)")
_EPOCH = re.compile(_STAMP + r".*epoch category=(.+?) version=\S+ epoch=(\d+)/")


class TrainingBenchError(SalescastError):
    """A measured training run failed; the message quotes its log."""


@dataclass
class TrainingRun:
    """One child `salescast train` run."""

    label: str
    categories: list[str]
    days: int
    epochs: int
    wall_s: float
    training_s: float
    epoch_s: list[float]
    peak_rss_mb: float

    @property
    def mean_epoch_s(self) -> float:
        return sum(self.epoch_s) / len(self.epoch_s) if self.epoch_s else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean_epoch_s": round(self.mean_epoch_s, 3)}


@dataclass
class TrainingReport:
    max_epochs: int
    model: dict[str, Any]
    runs: list[TrainingRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"max_epochs": self.max_epochs, "model": self.model, "runs": [r.to_dict() for r in self.runs]}


def run_training_bench(
    settings: Settings,
    *,
    years: Sequence[float],
    max_epochs: int | None,
    work_dir: Path,
    progress: Progress = print,
) -> TrainingReport:
    epochs = max_epochs or settings.training.max_epochs
    sample = ensure_sample_data(settings)
    categories = available_categories(settings, sample)
    report = TrainingReport(epochs, settings.model.model_dump())
    plan: list[tuple[str, Path, list[str]]] = [
        (f"sample, 1 category ({categories[0]})", sample, categories[:1]),
        (f"sample, all {len(categories)} categories", sample, categories),
    ]
    for length in years:
        path = work_dir / "data" / f"sample-{length:g}y.csv"
        write_sample(path, settings.sample.seed, settings.sample.start, length)
        plan.append((f"{length:g} years, 1 category ({categories[0]})", path, categories[:1]))
    for number, (label, data, names) in enumerate(plan):
        run = measure_training(settings, data, names, epochs, work_dir / f"run-{number}", label)
        progress(
            f"{label}: {run.wall_s:.1f} s wall, {run.training_s:.1f} s training, "
            f"{run.mean_epoch_s:.2f} s/epoch, peak {run.peak_rss_mb:.0f} MB"
        )
        report.runs.append(run)
    return report


def measure_training(
    settings: Settings, data: Path, categories: Sequence[str], epochs: int, work_dir: Path, label: str
) -> TrainingRun:
    """Run `salescast train` for `categories` on `data` in a child process and measure it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    child = isolated_settings(
        settings,
        work_dir,
        data={"path": str(data.resolve())},
        paths={"artifacts": str(work_dir.resolve() / "artifacts")},
        training={"max_epochs": epochs, "patience": epochs},
    )
    config = work_dir / "config.yaml"
    config.write_text(yaml.safe_dump(child.model_dump(mode="json")), encoding="utf-8")
    result_json = work_dir / "result.json"
    log_path = work_dir / "train.log"
    command = [sys.executable, "-m", "salescast", "--config", str(config), "train"]
    for category in categories:
        command += ["--category", category]
    command += ["--experiment", "salescast-bench", "--no-archive", "--result-json", str(result_json)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SALESCAST_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    started = time.monotonic()
    log_path.unlink(missing_ok=True)
    process = supervisor.start_process(f"train-{label}", command, log_path, env)
    try:
        peak = _watch_peak_rss(process, settings.bench.memory_poll_s)
    finally:
        process.stop(settings.up.stop_timeout_s)
    wall = time.monotonic() - started
    text = log_path.read_text(encoding="utf-8", errors="replace")
    try:
        results = read_results(result_json)
    except ContractError:
        raise TrainingBenchError(
            f"{label}: `salescast train` exited with {process.exited()}: {text[-800:]}"
        ) from None
    failed = [r for r in results if r.status != "succeeded"]
    if failed:
        raise TrainingBenchError(f"{label}: training failed: {[(r.category, r.error) for r in failed]}")
    days, epoch_s = parse_epoch_times(text)
    return TrainingRun(
        label=label,
        categories=list(categories),
        days=days,
        epochs=epochs,
        wall_s=round(wall, 2),
        training_s=round(sum(r.seconds for r in results), 2),
        epoch_s=[round(value, 3) for value in epoch_s],
        peak_rss_mb=round(peak / 2**20, 1),
    )


def parse_epoch_times(log_text: str) -> tuple[int, list[float]]:
    """(days of the longest category, seconds of every epoch) from a training log; an epoch's time
    runs from the previous epoch line (or the category's `training started` line) to its own."""
    previous: datetime | None = None
    days = 0
    epochs: list[float] = []
    for line in log_text.splitlines():
        if match := _STARTED.match(line):
            previous = _time(match[1])
            days = max(days, int(match[3]))
        elif (match := _EPOCH.match(line)) and previous is not None:
            now = _time(match[1])
            epochs.append((now - previous).total_seconds())
            previous = now
    return days, epochs


def training_markdown(report: TrainingReport) -> str:
    model = report.model
    rows = [
        [
            run.label,
            str(run.days),
            str(run.epochs),
            f"{run.mean_epoch_s:.2f}",
            f"{run.training_s:.1f}",
            f"{run.wall_s:.1f}",
            f"{run.peak_rss_mb:.0f}",
        ]
        for run in report.runs
    ]
    return (
        f"Model: conv {model['conv_channels']} × kernel {model['kernel_size']}, LSTM {model['lstm_hidden']} "
        f"× {model['lstm_layers']} · {report.max_epochs} epochs per category (early stopping off)\n\n"
        + markdown_table(
            ["run", "days", "epochs", "s/epoch", "training s", "wall s (process)", "peak RSS MB"], rows
        )
        + "\n"
    )


def _watch_peak_rss(process: supervisor.ManagedProcess, poll_s: float) -> int:
    """Peak resident memory of the process and its children, sampled every `poll_s` until it exits."""
    peak = 0
    while process.exited() is None:
        total = 0
        try:
            for member in process.tree():
                total += member.memory_info().rss
        except psutil.NoSuchProcess:  # the child ended between the listing and the reading
            pass
        peak = max(peak, total)
        time.sleep(poll_s)
    return peak


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
