"""Pack a trained version of a category into a TorchServe archive in the model store.

`<model_store>/<slug>-<version>.mar` holds model.pt, the handler, norm_stats.json, metrics.json and a
model-config.yaml (batch size, batch delay, workers, response timeout from the `archive` settings).
Archives are built in a hidden temp folder inside the model store and renamed into place, so
TorchServe and other readers never see half a file. `<model_store>/categories.json` maps every
slug back to its category name for the gateway. Old archives beyond `archive.keep_versions` are
removed, oldest first.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.artifacts import (
    METRICS_FILE,
    MODEL_FILE,
    NORM_STATS_FILE,
    is_version,
    latest_version,
    list_versions,
    version_dir,
)
from core.atomic import write_json_atomic
from core.errors import SalescastError
from core.settings import Settings
from core.slugs import SlugError, category_slug

logger = logging.getLogger(__name__)

CATEGORIES_FILE = "categories.json"
MODEL_CONFIG_FILE = "model-config.yaml"
HANDLER_MODULE = "handlers.forecast_handler"
_ARCHIVE_NAME = re.compile(r"^(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<version>\d{8}\.\d{6})\.mar$")


class ArchiveError(SalescastError):
    """A category has nothing to archive, or torch-model-archiver failed."""


@dataclass(frozen=True)
class ArchiveInfo:
    """One `.mar` in the model store: `model_name` is the category's slug, `version` the training version."""

    category: str
    model_name: str
    version: str
    path: Path

    @property
    def file_name(self) -> str:
        """The name TorchServe's register API takes (relative to its model store)."""
        return self.path.name

    def to_dict(self) -> dict[str, str]:
        return {
            "category": self.category,
            "model_name": self.model_name,
            "version": self.version,
            "path": str(self.path),
        }


def archive_file_name(model_name: str, version: str) -> str:
    """`beauty`, `20250101.120000` → `beauty-20250101.120000.mar`."""
    return f"{model_name}-{version}.mar"


def model_config(settings: Settings) -> dict[str, int]:
    """The per-model TorchServe settings packed as model-config.yaml."""
    archive = settings.archive
    return {
        "minWorkers": archive.workers,
        "maxWorkers": archive.workers,
        "batchSize": archive.batch_size,
        "maxBatchDelay": archive.max_batch_delay_ms,
        "responseTimeout": archive.response_timeout_s,
    }


def handler_file() -> Path:
    """The handler source packed into every archive (located without importing TorchServe)."""
    spec = importlib.util.find_spec(HANDLER_MODULE)
    if spec is None or spec.origin is None:
        raise ArchiveError(f"handler module {HANDLER_MODULE} not found; is salescast installed?")
    return Path(spec.origin)


def archive_version(settings: Settings, category: str, version: str | None = None) -> ArchiveInfo:
    """Archive `version` (default: the newest) of `category` into the model store and prune old archives."""
    slug = category_slug(category)
    if version is None:
        version = latest_version(settings, category)
        if version is None:
            raise ArchiveError(
                f"category {category!r} has no trained version under {settings.paths.artifacts}; "
                f"train it first: salescast train --category {category!r}"
            )
    elif version not in list_versions(settings, category):
        known = ", ".join(list_versions(settings, category)) or "none"
        raise ArchiveError(f"category {category!r} has no version {version!r} (trained versions: {known})")
    source = version_dir(settings, category, version)
    missing = [name for name in (MODEL_FILE, NORM_STATS_FILE, METRICS_FILE) if not (source / name).is_file()]
    if missing:
        raise ArchiveError(f"{source} is incomplete: {', '.join(missing)} missing")
    store = settings.paths.model_store
    store.mkdir(parents=True, exist_ok=True)
    target = store / archive_file_name(slug, version)
    with tempfile.TemporaryDirectory(dir=store, prefix=".tmp-archive-") as tmp:
        workdir = Path(tmp)
        config_path = workdir / MODEL_CONFIG_FILE
        config_path.write_text(yaml.safe_dump(model_config(settings), sort_keys=False), encoding="utf-8")
        built = _run_archiver(
            model_name=slug,
            version=version,
            model_file=source / MODEL_FILE,
            extra_files=[source / NORM_STATS_FILE, source / METRICS_FILE],
            config_file=config_path,
            workdir=workdir,
        )
        _fsync(built)
        record_category(store, slug, category)
        built.replace(target)
    info = ArchiveInfo(category=category, model_name=slug, version=version, path=target)
    logger.info("archived category=%s version=%s path=%s", category, version, target)
    prune_archives(settings, slug)
    return info


def _run_archiver(
    *,
    model_name: str,
    version: str,
    model_file: Path,
    extra_files: list[Path],
    config_file: Path,
    workdir: Path,
) -> Path:
    """Run torch-model-archiver in a subprocess with a private TMPDIR.

    The archiver stages files in `$TMPDIR/<model_name>` and deletes that folder first, so two
    archivers of one category sharing /tmp would wreck each other's archive.
    """
    staging = workdir / "staging"
    staging.mkdir()
    command = [
        sys.executable,
        "-m",
        "model_archiver.model_packaging",
        "--model-name",
        model_name,
        "--version",
        version,
        "--serialized-file",
        str(model_file),
        "--handler",
        str(handler_file()),
        "--extra-files",
        ",".join(str(path) for path in extra_files),
        "--config-file",
        str(config_file),
        "--export-path",
        str(workdir),
        "--force",
    ]
    env = {**os.environ, "TMPDIR": str(staging)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    built = workdir / f"{model_name}.mar"
    if result.returncode != 0 or not built.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ArchiveError(
            f"torch-model-archiver failed for {model_name} {version} (exit {result.returncode}): "
            + " | ".join(detail)
        )
    return built


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


# ---- categories.json ----------------------------------------------------------------------------


@contextmanager
def _locked(store: Path) -> Iterator[None]:
    """Serialize read-modify-write of categories.json between processes archiving at once."""
    with (store / f".{CATEGORIES_FILE}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_categories(store: Path) -> dict[str, str]:
    """slug → category recorded in the model store (empty when nothing was archived yet)."""
    path = store / CATEGORIES_FILE
    if not path.is_file():
        return {}
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"{path} is not valid JSON ({exc}); delete it and archive again") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"{path} must map model names to categories")
    return {str(slug): str(category) for slug, category in data.items()}


def record_category(store: Path, slug: str, category: str) -> None:
    """Add slug → category to categories.json (atomically), refusing two categories on one slug."""
    with _locked(store):
        mapping = read_categories(store)
        if mapping.get(slug, category) != category:
            raise SlugError(f"categories {mapping[slug]!r} and {category!r} both map to model name {slug!r}")
        if mapping.get(slug) == category:
            return
        mapping[slug] = category
        write_json_atomic(store / CATEGORIES_FILE, dict(sorted(mapping.items())))


# ---- listing and pruning ------------------------------------------------------------------------


def list_archives(settings: Settings) -> list[ArchiveInfo]:
    """Every `<slug>-<version>.mar` in the model store, by model name then version (oldest first)."""
    store = settings.paths.model_store
    if not store.is_dir():
        return []
    categories = read_categories(store)
    archives = []
    for path in store.iterdir():
        match = _ARCHIVE_NAME.match(path.name)
        if match and path.is_file():
            slug = match["slug"]
            archives.append(ArchiveInfo(categories.get(slug, slug), slug, match["version"], path))
    return sorted(archives, key=lambda info: (info.model_name, info.version))


def newest_archives(settings: Settings) -> dict[str, ArchiveInfo]:
    """model name → its newest archive."""
    newest: dict[str, ArchiveInfo] = {}
    for info in list_archives(settings):
        newest[info.model_name] = info
    return newest


def prune_archives(settings: Settings, model_name: str) -> list[Path]:
    """Delete the oldest archives of `model_name` beyond `archive.keep_versions`; returns what was removed."""
    own = [info for info in list_archives(settings) if info.model_name == model_name]
    stale = own[: max(0, len(own) - settings.archive.keep_versions)]
    for info in stale:
        info.path.unlink(missing_ok=True)
        logger.info("pruned archive category=%s version=%s path=%s", info.category, info.version, info.path)
    return [info.path for info in stale]


def trained_categories(settings: Settings) -> list[str]:
    """Categories that have at least one complete version under `paths.artifacts` (names from norm_stats)."""
    root = settings.paths.artifacts
    if not root.is_dir():
        return []
    categories = []
    for folder in sorted(entry for entry in root.iterdir() if entry.is_dir()):
        versions = sorted(
            entry
            for entry in folder.iterdir()
            if entry.is_dir() and is_version(entry.name) and (entry / NORM_STATS_FILE).is_file()
        )
        if not versions:
            continue
        stats = json.loads((versions[-1] / NORM_STATS_FILE).read_text(encoding="utf-8"))
        category = stats.get("category")
        if isinstance(category, str) and category_slug(category) == folder.name:
            categories.append(category)
    return categories
