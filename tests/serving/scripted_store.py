"""Model stores built from scripted artifacts, and helpers to look for a TorchServe's processes."""

from __future__ import annotations

from pathlib import Path

import psutil

from core.settings import Settings
from serving.archive import ArchiveInfo, archive_version
from tests.handlers.scripted_artifacts import write_scripted_version


def scripted_archive(settings: Settings, category: str, version: str, *, seed: int = 0) -> ArchiveInfo:
    """Write a scripted version of `category` into the settings' artifacts and archive it."""
    write_scripted_version(settings.paths.artifacts, category, version, seed=seed)
    return archive_version(settings, category, version)


def broken_archive(settings: Settings, category: str, version: str) -> ArchiveInfo:
    """A well-formed .mar whose model.pt is garbage: its workers die while loading it."""
    write_scripted_version(settings.paths.artifacts, category, version, model_bytes=b"not a torchscript file")
    return archive_version(settings, category, version)


def processes_mentioning(path: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions `path` (launcher, Java and workers of one instance)."""
    needle = str(path)
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if any(needle in part for part in cmdline):
            found.append(process)
    return found
