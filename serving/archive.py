"""Pack a trained version of a category into a TorchServe archive in the model store.

`<model_store>/<slug>-<version>.mar` holds model.pt, the handler and its pure steps
(forecast_steps.py, request_parsing.py, version_stats.py and calendar_terms.py, imported as top-level
modules from the model dir), norm_stats.json, metrics.json and a model-config.yaml (batch size,
batch delay, workers, response timeout from the `archive` settings).
Archives are built in a hidden temp folder inside the model store and renamed into place, so
TorchServe and other readers never see half a file. `<model_store>/categories.json` maps every
slug back to its category name for the gateway. Old archives beyond `archive.keep_versions` are
removed, oldest first.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.artifacts import (
    MODEL_FILE,
    is_version,
    latest_version,
    list_versions,
    version_dir,
)
from core.contracts.category_index import read_category_index, record_category
from core.contracts.champions import read_champions
from core.contracts.files import ContractError
from core.contracts.manifest import MANIFEST_FILE, read_manifest
from core.contracts.metrics import METRICS_FILE, read_metrics
from core.errors import SalescastError
from core.settings import Settings
from core.shard_map import ShardMapError, shard_map_of
from core.slugs import category_slug

logger = logging.getLogger(__name__)

MODEL_CONFIG_FILE = "model-config.yaml"
HANDLER_MODULE = "handlers.forecast_handler"
STEPS_MODULE = "handlers.forecast_steps"
CALENDAR_MODULE = "handlers.calendar_terms"
REQUEST_MODULE = "handlers.request_parsing"
STATS_MODULE = "handlers.version_stats"
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
    """The per-model TorchServe settings packed as model-config.yaml.

    No workers: registering an archive only makes it known (~70 ms, a few kB of the JVM's heap).
    Whoever loads it scales it to `archive.workers` (start-up, a deploy, the gateway's loaded set
    when a request comes): TorchServe lets an archive's own minWorkers override the register call's
    `initial_workers`, so a version registered without workers must say so here.
    """
    archive = settings.archive
    return {
        "minWorkers": 0,
        "maxWorkers": 0,
        "batchSize": archive.batch_size,
        "maxBatchDelay": archive.max_batch_delay_ms,
        "responseTimeout": archive.response_timeout_s,
    }


def handler_file(module: str = HANDLER_MODULE) -> Path:
    """The source of a handler module packed into every archive (located without importing TorchServe)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ArchiveError(f"handler module {module} not found; is salescast installed?")
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
    if not (source / MODEL_FILE).is_file():
        raise ArchiveError(f"{source} is incomplete: {MODEL_FILE} missing")
    try:  # what goes into the archive must be what the handler and the gateway can read
        manifest = read_manifest(source)
        read_metrics(source)
    except ContractError as exc:
        raise ArchiveError(f"cannot archive {category!r} {version}: {exc}") from exc
    if manifest.category != category or manifest.version != version:
        raise ArchiveError(
            f"{source / MANIFEST_FILE} describes {manifest.category!r} {manifest.version}, "
            f"not {category!r} {version}"
        )
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
            extra_files=[
                handler_file(STEPS_MODULE),
                handler_file(CALENDAR_MODULE),
                handler_file(REQUEST_MODULE),
                handler_file(STATS_MODULE),
                source / MANIFEST_FILE,
                source / METRICS_FILE,
            ],
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


# ---- listing and pruning ------------------------------------------------------------------------


def list_archives(settings: Settings) -> list[ArchiveInfo]:
    """Every `<slug>-<version>.mar` in the model store, by model name then version (oldest first)."""
    return list_archives_in(settings.paths.model_store)


def list_archives_in(store: Path) -> list[ArchiveInfo]:
    """Every `<slug>-<version>.mar` in `store`, by model name then version (oldest first)."""
    if not store.is_dir():
        return []
    categories = read_category_index(store)
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


def served_archives(settings: Settings) -> dict[str, ArchiveInfo]:
    """model name → the archive to serve: its champion (champions.json) where that archive is in
    the model store, else its newest (a category trained before the registry, or never deployed).
    With `torchserve.shard`, only the categories the shard map gives that shard."""
    archives = list_archives(settings)
    chosen = newest_archives(settings)
    champions = read_champions(settings.paths.model_store).models
    for info in archives:
        champion = champions.get(info.model_name)
        if champion is not None and champion.version == info.version:
            chosen[info.model_name] = info
    shard = settings.torchserve.shard
    if shard is None:
        return chosen
    shard_map = shard_map_of(settings)
    if shard not in {item.name for item in shard_map.shards}:
        names = [item.name for item in shard_map.shards]
        raise ShardMapError(f"torchserve.shard {shard!r} is not in the shard map (shards: {names})")
    return {name: info for name, info in chosen.items() if shard_map.shard_for(name).name == shard}


def prune_archives(settings: Settings, model_name: str) -> list[Path]:
    """Delete the oldest archives of `model_name` beyond `archive.keep_versions`, never the served
    one or the one before it (champions.json: after a rollback the served version is not the
    newest); returns what was removed."""
    own = [info for info in list_archives(settings) if info.model_name == model_name]
    protected = read_champions(settings.paths.model_store).protected_versions(model_name)
    stale = [
        info
        for info in own[: max(0, len(own) - settings.archive.keep_versions)]
        if info.version not in protected
    ]
    for info in stale:
        info.path.unlink(missing_ok=True)
        logger.info("pruned archive category=%s version=%s path=%s", info.category, info.version, info.path)
    return [info.path for info in stale]


def trained_categories(settings: Settings) -> list[str]:
    """Categories that have at least one complete version under `paths.artifacts` (names from the
    newest version's manifest)."""
    root = settings.paths.artifacts
    if not root.is_dir():
        return []
    categories = []
    for folder in sorted(entry for entry in root.iterdir() if entry.is_dir()):
        versions = sorted(
            entry
            for entry in folder.iterdir()
            if entry.is_dir() and is_version(entry.name) and (entry / MANIFEST_FILE).is_file()
        )
        if not versions:
            continue
        try:
            category = read_manifest(versions[-1]).category
        except ContractError as exc:
            logger.warning("skipping %s: %s", folder, exc)
            continue
        if category_slug(category) == folder.name:
            categories.append(category)
    return categories
