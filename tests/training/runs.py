"""One tiny training run of three synthetic categories, and copies of it a test may change
(`train --only-changed` and the shared-network refit build on it)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from core.settings import Settings
from tests.conftest import make_test_settings
from tests.training.synthetic import write_transactions
from training.pipeline import train_categories
from training.shared import SHARED_DIR

CATEGORIES = ("A", "B", "C")
DAYS = 120


@dataclass(frozen=True)
class TrainedRun:
    """Settings whose artifacts hold one version of each of `CATEGORIES` (`versions`), trained on `data`."""

    settings: Settings
    data: Path
    versions: dict[str, str]


def train_run(root: Path, mlflow: Settings) -> TrainedRun:
    """Train every category once on a fresh synthetic file under `root` (the MLflow store is `mlflow`'s)."""
    store = mlflow.mlflow
    settings = make_test_settings(
        root, mlflow={"tracking_uri": store.tracking_uri, "artifact_location": store.artifact_location}
    )
    data = write_transactions(root / "v1.csv", dict.fromkeys(CATEGORIES, DAYS))
    results = train_categories(CATEGORIES, "only-changed", settings, data_path=data)
    assert [r.status for r in results] == ["succeeded"] * len(CATEGORIES), [r.error for r in results]
    return TrainedRun(settings, data, {r.category: str(r.version) for r in results})


def copy_run(run: TrainedRun, root: Path) -> TrainedRun:
    """`run` with its artifacts copied under `root`: a test may add versions without touching others'."""
    artifacts = root / "artifacts"
    shutil.copytree(run.settings.paths.artifacts, artifacts)
    settings = run.settings.with_overrides({"paths": {"artifacts": str(artifacts)}})
    return TrainedRun(settings, run.data, dict(run.versions))


def changed_copy(source: Path, target: Path, category: str, *, add: str | None = None) -> Path:
    """`source` with three weeks of `category`'s training days selling half again as much (and `add`, a
    new category with the first category's rows, appended)."""
    frame = pd.read_csv(source)
    rows = frame.index[frame["Product Category"] == category][30:51]
    frame.loc[rows, "Total Amount"] = (frame.loc[rows, "Total Amount"] * 1.5).round()
    if add is not None:
        extra = frame[frame["Product Category"] == CATEGORIES[0]].assign(**{"Product Category": add})
        frame = pd.concat([frame, extra], ignore_index=True)
    frame.to_csv(target, index=False)
    return target


def config_file(settings: Settings, path: Path) -> Path:
    """`settings` as a `--config` file."""
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return path


def shared_ids(settings: Settings) -> set[str]:
    """Ids of the shared networks saved under the artifacts."""
    return {path.name for path in (settings.paths.artifacts / SHARED_DIR).iterdir()}
