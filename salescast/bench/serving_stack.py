"""An isolated serving stack for benchmarks and reliability tests: settings whose paths live in one
work folder and whose ports are free loopback ports, models to serve, and a gateway subprocess.

`GatewayLauncher` is `gateway_process.GatewayProcess` with its files in the benchmark's work folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.artifacts import latest_version
from core.errors import SalescastError
from core.settings import Settings
from salescast.bench.gateway_process import GatewayProcess, isolated_env
from salescast.bench.isolation import free_port, isolated_settings

BENCH_EXPERIMENT = "salescast-bench"
# Epochs for models trained only so that something can be served (serving cost ignores accuracy).
SERVING_ONLY_EPOCHS = 3


class StackError(SalescastError):
    """The models a benchmark serves could not be prepared."""


def with_fresh_ports(settings: Settings) -> Settings:
    """Same settings, new TorchServe and gateway ports (a restarted server never waits on old sockets)."""
    return settings.with_overrides(
        {
            "torchserve": {
                "inference_port": free_port(),
                "management_port": free_port(),
                "metrics_port": free_port(),
                "initial_worker_port": free_port(),
            },
            "gateway": {"port": free_port()},
        }
    )


def servable_settings(
    settings: Settings, work_dir: Path, progress: Callable[[str], None] = print
) -> Settings:
    """Isolated settings whose artifacts hold a version of every category: the user's trained
    versions when every category has one, else the configured model trained briefly into `work_dir`."""
    from training.pipeline import available_categories, train_categories

    categories = available_categories(settings)
    stack = isolated_settings(settings, work_dir)
    if all(latest_version(settings, category) for category in categories):
        progress(f"serving the newest trained versions from {settings.paths.artifacts}")
        return stack
    stack = stack.with_overrides(
        {
            "paths": {"artifacts": str(work_dir.resolve() / "artifacts")},
            "training": {"max_epochs": min(SERVING_ONLY_EPOCHS, settings.training.max_epochs)},
        }
    )
    missing = [category for category in categories if not latest_version(stack, category)]
    if missing:
        progress(
            f"no trained versions: training {', '.join(missing)} for {SERVING_ONLY_EPOCHS} epochs "
            f"into {work_dir}"
        )
        failed = [r for r in train_categories(missing, BENCH_EXPERIMENT, stack) if r.status != "succeeded"]
        if failed:
            raise StackError(f"training models to serve failed: {[(r.category, r.error) for r in failed]}")
    return stack


def archive_all(settings: Settings) -> list[Any]:
    """Archive the newest version of every trained category into the settings' model store."""
    from serving.archive import archive_version, trained_categories

    return [archive_version(settings, category) for category in trained_categories(settings)]


def torchserve_process(
    settings: Settings, archives: Sequence[Any] | None = None, work_dir: Path | None = None
) -> Any:
    """A (not yet started) `TorchServeProcess` for `settings`: every port, including gRPC's, is
    private to the instance, so benchmarks and tests run beside a dev stack."""
    from serving.torchserve_process import TorchServeProcess

    return TorchServeProcess(settings, archives, work_dir=work_dir)


class GatewayLauncher(GatewayProcess):
    """The benchmark's gateway: config and log in `work_dir`, named by port; neither SALESCAST_*
    variables nor MLFLOW_TRACKING_URI are inherited (the dumped settings alone configure it)."""

    def __init__(self, settings: Settings, work_dir: Path, *, start_timeout_s: float = 60.0) -> None:
        env = isolated_env()
        env.pop("MLFLOW_TRACKING_URI", None)
        super().__init__(
            settings,
            log_path=work_dir / f"gateway-{settings.gateway.port}.log",
            start_timeout_s=start_timeout_s,
            env=env,
        )
        self.work_dir = work_dir
