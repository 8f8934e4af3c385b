"""The model store's copy on object storage (`storage.uri: s3://bucket/prefix`), when there is one.

Every archived version goes to the bucket with its training artifacts (model.pt, stats, metrics,
manifest, plots) before it can be deployed, and champions.json follows every alias move, so the
bucket alone can restore every served version onto an empty machine (`salescast models pull`, or
`serve torchserve` with an empty model store). Without `storage.uri` every call here is a no-op:
the embedded default needs no server.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.artifacts import version_dir
from core.contracts.champions import Champions, read_champions
from core.settings import Settings
from serving.archive import archive_file_name, list_archives_in
from serving.object_store import ObjectStore
from serving.version_store import Restored, VersionStore

logger = logging.getLogger(__name__)


class BucketSync:
    """Pushes versions and champions to the bucket; `enabled` is False without `storage.uri`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.enabled = settings.storage.enabled
        self._versions = VersionStore(ObjectStore(settings.storage)) if self.enabled else None

    @property
    def where(self) -> str:
        return repr(self._versions) if self._versions is not None else "local files only"

    def check(self) -> None:
        """At start-up: the bucket exists and the credentials may write (`ObjectStoreError` names what
        is wrong), so a misconfigured bucket fails the start, not the first deploy."""
        if self._versions is not None:
            self._versions.store.check(write=True)

    def push_version(self, category: str, model_name: str, version: str) -> None:
        """Upload one archived version and its training artifacts (raises `ObjectStoreError`)."""
        if self._versions is None:
            return
        archive = self._settings.paths.model_store / archive_file_name(model_name, version)
        folder = version_dir(self._settings, category, version)
        extras = (
            {path.name: path for path in sorted(folder.iterdir()) if path.is_file()}
            if folder.is_dir()
            else {}
        )
        self._versions.push_version(archive, model_name, version, extra_files=extras)
        logger.info("pushed category=%s version=%s to %s", category, version, self.where)

    def push_champions(self, champions: Champions | None = None) -> None:
        """Mirror the model store's champions.json into the bucket, first uploading any champion (or
        previous) archive the bucket lacks (versions archived before the bucket was configured)."""
        if self._versions is None:
            return
        champions = champions or read_champions(self._settings.paths.model_store)
        stored = self._versions.complete_versions()
        local = {
            (info.model_name, info.version): info
            for info in list_archives_in(self._settings.paths.model_store)
        }
        for model_name, champion in champions.models.items():
            for version in (champion.version, champion.previous):
                info = local.get((model_name, version or ""))
                if version and version not in stored.get(model_name, []) and info is not None:
                    self.push_version(info.category, model_name, version)
        self._versions.write_champions(champions)

    def restore(self, model_store: Path) -> Restored | None:
        """Bring every champion (and its previous version) back from the bucket into `model_store`."""
        if self._versions is None:
            return None
        return self._versions.restore(model_store)
