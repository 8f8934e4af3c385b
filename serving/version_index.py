"""The index of archived versions: what every `.mar` in the model store is, read from the archive.

With a memory budget most versions are registered without a worker, and TorchServe's customized
describe (the handler's own answer) needs a live worker. So the facts the gateway needs of a version
— category, window size, horizon, test metrics, backtest — are read from the archive's own
`norm_stats.json` and `metrics.json` (the files the handler describes itself from), once per file:
the index is keyed by (name, size, mtime), and a rescan is one directory listing.

The facts are the handler's own describe answer (`handlers.version_stats.describe`, which needs no
torch) built from those files.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.contracts.files import ContractError
from core.contracts.served import ServedVersionInfo, parse_served_info
from handlers.version_stats import describe
from serving.archive import ArchiveInfo, list_archives_in

logger = logging.getLogger(__name__)

NORM_STATS_MEMBER = "norm_stats.json"
METRICS_MEMBER = "metrics.json"


@dataclass(frozen=True)
class ArchivedVersion:
    """One archive and the facts it serves."""

    archive: ArchiveInfo
    info: ServedVersionInfo

    @property
    def model_name(self) -> str:
        return self.archive.model_name

    @property
    def version(self) -> str:
        return self.archive.version


def read_archived(archive: ArchiveInfo) -> ServedVersionInfo:
    """The facts packed in one `.mar` (ContractError when it lacks or garbles them)."""
    try:
        with zipfile.ZipFile(archive.path) as packed:
            stats = json.loads(packed.read(NORM_STATS_MEMBER))
            names = set(packed.namelist())
            metrics = json.loads(packed.read(METRICS_MEMBER)) if METRICS_MEMBER in names else {}
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ContractError(f"{archive.path.name}: cannot read its {NORM_STATS_MEMBER}: {exc}") from None
    if not isinstance(stats, dict) or not isinstance(metrics, dict):
        raise ContractError(f"{archive.path.name}: {NORM_STATS_MEMBER} and {METRICS_MEMBER} must be objects")
    return parse_served_info(describe(stats, metrics), archive.path.name)


class VersionIndex:
    """model name → its archived versions (oldest first), rebuilt from the model store on `scan()`."""

    def __init__(self, model_store: Path) -> None:
        self._store = model_store
        self._cache: dict[tuple[str, int, int], ArchivedVersion | None] = {}
        self._versions: dict[str, list[ArchivedVersion]] = {}

    def scan(self) -> dict[str, list[ArchivedVersion]]:
        """Re-list the store; only archives not seen before (or rewritten) are opened."""
        seen: dict[tuple[str, int, int], ArchivedVersion | None] = {}
        versions: dict[str, list[ArchivedVersion]] = {}
        for archive in list_archives_in(self._store):
            try:
                stat = archive.path.stat()
            except FileNotFoundError:  # pruned while listing
                continue
            key = (archive.path.name, stat.st_size, stat.st_mtime_ns)
            if key not in self._cache:
                self._cache[key] = self._read(archive)
            seen[key] = entry = self._cache[key]
            if entry is not None:
                versions.setdefault(archive.model_name, []).append(entry)
        self._cache = seen
        self._versions = versions
        return dict(versions)

    @property
    def versions(self) -> dict[str, list[ArchivedVersion]]:
        """The last scan's result."""
        return dict(self._versions)

    def get(self, model_name: str, version: str) -> ArchivedVersion | None:
        """One version from the last scan; None when it is not archived here."""
        for entry in self._versions.get(model_name, []):
            if entry.version == version:
                return entry
        return None

    @staticmethod
    def _read(archive: ArchiveInfo) -> ArchivedVersion | None:
        try:
            return ArchivedVersion(archive, read_archived(archive))
        except ContractError as exc:
            logger.warning("archive not indexed: %s", exc)
            return None
