"""Environment for running `salescast up` as a user would, isolated from any dev stack."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import TINY_OVERRIDES
from tests.support.ports import free_port


def isolated_env(root: Path) -> dict[str, str]:
    """SALESCAST_… variables putting every path under `root` and every port on a free one (tiny model).

    The data file is `root/data/sample_sales.csv`, missing at first, so `up` must create it.
    """
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("SALESCAST_", "MLFLOW_"))
    }
    env.update(
        {
            "SALESCAST_DATA__PATH": str(root / "data" / "sample_sales.csv"),
            "SALESCAST_PATHS__ARTIFACTS": str(root / "artifacts"),
            "SALESCAST_PATHS__MODEL_STORE": str(root / "model_store"),
            "SALESCAST_PATHS__RUN": str(root / "run"),
            "SALESCAST_PATHS__JOBS_DB": str(root / "jobs.sqlite"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "SALESCAST_MLFLOW__ARTIFACT_LOCATION": str(root / "mlruns" / "artifacts"),
            "SALESCAST_MLFLOW__UI_PORT": str(free_port()),
            "SALESCAST_TORCHSERVE__INFERENCE_PORT": str(free_port()),
            "SALESCAST_TORCHSERVE__MANAGEMENT_PORT": str(free_port()),
            "SALESCAST_TORCHSERVE__METRICS_PORT": str(free_port()),
            "SALESCAST_TORCHSERVE__INITIAL_WORKER_PORT": str(free_port()),
            "SALESCAST_GATEWAY__PORT": str(free_port()),
            "SALESCAST_UI__PORT": str(free_port()),
            "SALESCAST_TRAINING__MAX_EPOCHS": "2",
        }
    )
    for section, values in TINY_OVERRIDES.items():
        for key, value in values.items():
            env.setdefault(f"SALESCAST_{section.upper()}__{key.upper()}", str(value))
    return env
