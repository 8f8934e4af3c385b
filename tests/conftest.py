"""Shared test configuration: isolated settings, expensive session fixtures, per-tier timing.

Expensive fixtures live in `tests/fixtures/` (one module per part) and are shared by the whole
session: tiny models are trained once, one TorchServe and one gateway serve every test that does
not change models.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings, load_settings
from salescast.bench.isolation import isolated_settings

pytest_plugins = [
    "tests.fixtures.parallel",  # first: the fixtures below import it
    "tests.fixtures.training",
    "tests.fixtures.torchserve",
    "tests.fixtures.gateway",
    "tests.fixtures.seaweedfs",
    "tests.fixtures.redis_server",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "data" / "sample_sales.csv"

# Tiny model and training so the whole suite trains in seconds on 2 cores.
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "window": {"size": 14},  # tests send two weeks of numbers
    "model": {
        "conv_channels": 8,
        "kernel_size": 7,
        "conv_stride": 7,
        "lstm_hidden": 16,
        "lstm_layers": 1,
        "dropout": 0.0,
        "members": 1,
    },
    "training": {"max_epochs": 3, "batch_size": 64, "patience": 2, "num_threads": 1},
    # Off for the many short-lived test gateways (each would run a bulk forecast at start);
    # tests/gateway/test_live_accuracy.py turns it on.
    "live_accuracy": {"enabled": False},
}


def make_test_settings(root: Path, **overrides: dict[str, Any]) -> Settings:
    """Settings whose every path is under `root` and every port is free; tiny model unless overridden."""
    sections: dict[str, dict[str, Any]] = {
        "data": {"path": str(SAMPLE_DATA)},
        "paths": {"artifacts": str(root / "artifacts")},
        **{section: dict(values) for section, values in TINY_OVERRIDES.items()},
    }
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return isolated_settings(load_settings(environ={}), root, **sections)


@pytest.fixture(scope="session")
def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for everything the session's shared fixtures write."""
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def test_settings(session_root: Path) -> Settings:
    """Session-wide isolated settings (tiny model, free ports, paths in a temp folder)."""
    return make_test_settings(session_root)


# ---- per-tier timing: a tier is the first folder under tests/ -------------------------------

_TIER_SECONDS: dict[str, float] = defaultdict(float)
_TIER_COUNTS: dict[str, int] = defaultdict(int)
_SESSION_START: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    parts = Path(report.fspath).parts
    tier = (
        parts[parts.index("tests") + 1]
        if "tests" in parts and len(parts) > parts.index("tests") + 2
        else "tests"
    )
    _TIER_SECONDS[tier] += report.duration
    if report.when == "call":
        _TIER_COUNTS[tier] += 1


def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSION_START.append(time.monotonic())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIER_SECONDS:
        return
    # the run's wall time, measured where it is reported (the controller, when workers run the tests)
    if _SESSION_START:
        _TIER_SECONDS["(session)"] = time.monotonic() - _SESSION_START[0]
    terminalreporter.section("time per test tier (setup + call + teardown)")
    for tier, seconds in sorted(_TIER_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{tier:<14} {_TIER_COUNTS[tier]:>4} tests {seconds:>8.1f} s")
