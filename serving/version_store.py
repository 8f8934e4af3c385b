"""Versions in the object store: their layout in the bucket, a complete push, a verified pull, and
the champions manifest beside them, so the bucket alone can restore every served version.

Layout under `storage.uri` (`s3://bucket/prefix`):

    champions.json                                     which version of each model is served
    models/<model>/<version>/<model>-<version>.mar     the archive TorchServe loads
    models/<model>/<version>/<model>-<version>.mar.sha256   its SHA-256 (`sha256sum` format), written last
    models/<model>/<version>/<file>                    model.pt, norm_stats.json, metrics.json, plots …

A version counts (is listed, can be pulled) only once its `.sha256` exists. The checksum is
uploaded after every other file of the version, so a push that fails half-way leaves a version
nobody lists, and a version once complete is never overwritten by another archive: the served
version and the manifest that names it cannot change under a failed or concurrent push.

A `.mar` runs handler code inside TorchServe, so a pulled archive is checked against the stored
SHA-256 (and the manifest's, when given) before it is renamed into the model store: an object
changed in the bucket after its push is refused and never placed where TorchServe looks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from core.artifacts import is_version
from core.contracts.category_index import record_category
from core.contracts.champions import CHAMPIONS_FILE, Champions, update_champions
from core.contracts.files import ContractError, describe_errors
from core.hashing import file_sha256
from serving.archive import archive_file_name
from serving.object_store import (
    ChecksumMismatchError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectStoreError,
)

log = logging.getLogger(__name__)

MODELS_PREFIX = "models"
CHAMPIONS_KEY = CHAMPIONS_FILE
SHA256_SUFFIX = ".sha256"
_MODEL_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")  # a category slug (core.slugs)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class VersionStoreError(ObjectStoreError):
    """A version cannot be pushed, pulled or deleted as asked; the message says which and why."""


class TamperedArchiveError(ChecksumMismatchError, VersionStoreError):
    """An archive in the bucket does not match its recorded SHA-256; it was not placed in the model store."""


@dataclass(frozen=True)
class StoredVersion:
    """One complete version in the bucket."""

    model_name: str
    version: str
    archive_key: str
    sha256: str
    files: list[str] = field(default_factory=list)  # every other file, relative to the version folder


@dataclass(frozen=True)
class Restored:
    """What `VersionStore.restore` placed: the bucket's champions and the archives pulled for them."""

    champions: Champions
    archives: list[Path]


def version_prefix(model_name: str, version: str) -> str:
    """`models/<model>/<version>/`: the folder of one version's objects."""
    _check_names(model_name, version)
    return f"{MODELS_PREFIX}/{model_name}/{version}/"


def archive_key(model_name: str, version: str) -> str:
    """Key of a version's `.mar` (named as in the model store)."""
    return version_prefix(model_name, version) + archive_file_name(model_name, version)


def checksum_key(model_name: str, version: str) -> str:
    """Key of the archive's SHA-256: present only for a completely pushed version."""
    return archive_key(model_name, version) + SHA256_SUFFIX


class VersionStore:
    """Push, list, pull and delete versions in one `ObjectStore`, and its champions manifest."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"VersionStore({self.store!r})"

    # ---- push -----------------------------------------------------------------------------------

    def push_version(
        self,
        archive_path: Path,
        model_name: str,
        version: str,
        extra_files: Mapping[str, Path] | None = None,
    ) -> StoredVersion:
        """Upload a version: `extra_files` (name in the version folder → local file), then the
        archive, then its SHA-256 (computed here) last. Pushing a complete version again with the
        same archive is a no-op; with a different archive it is refused (`VersionStoreError`)."""
        extras = dict(extra_files or {})
        for name, local in extras.items():
            _check_file_name(name, model_name, version)
            if not local.is_file():
                raise VersionStoreError(f"cannot push {model_name} {version}: {local} ({name}) is not a file")
        digest = file_sha256(archive_path)
        key = archive_key(model_name, version)
        stored = StoredVersion(model_name, version, key, digest, sorted(extras))
        existing = self._stored_sha256(model_name, version)
        if existing is not None:
            if existing != digest:
                raise VersionStoreError(
                    f"{self.store.url(key)} already holds another archive (SHA-256 {existing}, this "
                    f"one {digest}): a pushed version never changes; train a new one"
                )
            log.info("version already stored model=%s version=%s", model_name, version)
            return stored
        prefix = version_prefix(model_name, version)
        for name, local in sorted(extras.items()):
            self.store.put_file(local, prefix + name)
        self.store.put_file(archive_path, key)
        line = f"{digest}  {archive_file_name(model_name, version)}\n"
        self.store.put_bytes(checksum_key(model_name, version), line.encode("ascii"))
        log.info("version pushed model=%s version=%s sha256=%s", model_name, version, digest)
        return stored

    # ---- list -----------------------------------------------------------------------------------

    def complete_versions(self) -> dict[str, list[str]]:
        """model name → its complete versions, oldest first (one listing of the bucket)."""
        return _complete(self.store.list_keys(f"{MODELS_PREFIX}/"))

    def list_models(self) -> list[str]:
        """Model names with at least one complete version."""
        return list(self.complete_versions())

    def list_versions(self, model_name: str) -> list[str]:
        """Complete versions of `model_name`, oldest first (a half-pushed one is not among them)."""
        _check_model_name(model_name)
        return _complete(self.store.list_keys(f"{MODELS_PREFIX}/{model_name}/")).get(model_name, [])

    def version_files(self, model_name: str, version: str) -> StoredVersion:
        """A complete version's archive, SHA-256 and other files (`VersionStoreError` if incomplete)."""
        digest = self._require_sha256(model_name, version)
        prefix = version_prefix(model_name, version)
        own = {archive_key(model_name, version), checksum_key(model_name, version)}
        files = [key.removeprefix(prefix) for key in self.store.list_keys(prefix) if key not in own]
        return StoredVersion(model_name, version, archive_key(model_name, version), digest, files)

    # ---- pull -----------------------------------------------------------------------------------

    def pull_archive(
        self, model_name: str, version: str, model_store: Path, *, expected_sha256: str | None = None
    ) -> Path:
        """Place `<model>-<version>.mar` in `model_store`, verified: downloaded beside it, its SHA-256
        compared with the stored one (and `expected_sha256`, e.g. the champions manifest's) and
        renamed into place only when they agree; else `TamperedArchiveError` and nothing placed.
        An archive already there with the stored SHA-256 is kept as it is. Returns its path."""
        stored = self._require_sha256(model_name, version)
        key = archive_key(model_name, version)
        if expected_sha256 is not None and expected_sha256.lower() != stored:
            raise TamperedArchiveError(
                f"{self.store.url(key)}: the bucket records SHA-256 {stored}, the champions manifest "
                f"{expected_sha256}: not served; push the version again or fix champions.json",
                expected=expected_sha256.lower(),
                actual=stored,
            )
        dest = model_store / archive_file_name(model_name, version)
        if dest.is_file() and file_sha256(dest) == stored:
            return dest
        try:
            self.store.get_file(key, dest, expected_sha256=stored)
        except ChecksumMismatchError as exc:
            raise TamperedArchiveError(
                f"archive {self.store.url(key)} at {self.store.where} has SHA-256 {exc.actual}, not the "
                f"{stored} recorded at its push: it was changed in the bucket. Not placed in "
                f"{model_store} (a .mar runs handler code); push the version again from a trusted copy",
                expected=stored,
                actual=exc.actual,
            ) from None
        log.info("archive pulled model=%s version=%s sha256=%s", model_name, version, stored)
        return dest

    def pull_file(self, model_name: str, version: str, name: str, dest: Path) -> Path:
        """Download one of a version's other files (e.g. `model.pt`) to `dest`, atomically."""
        _check_file_name(name, model_name, version)
        return self.store.get_file(version_prefix(model_name, version) + name, dest)

    def restore(self, model_store: Path, *, previous: bool = True) -> Restored:
        """Make `model_store` serve what the bucket's champions.json says, from the bucket alone (an
        empty machine): every champion's archive pulled and verified, with `previous` also the one
        before it where the bucket has it (an instant rollback), each champion's category recorded
        in the store's category index, and the champions merged into its champions.json (the
        bucket's entries win). Nothing is recorded unless every champion's archive was placed."""
        champions = self.read_champions()
        complete = self.complete_versions()
        model_store.mkdir(parents=True, exist_ok=True)
        placed: list[Path] = []
        for model_name, champion in sorted(champions.models.items()):
            expected = champion.archive_sha256
            placed.append(
                self.pull_archive(model_name, champion.version, model_store, expected_sha256=expected)
            )
            if previous and champion.previous:
                if champion.previous in complete.get(model_name, []):
                    placed.append(self.pull_archive(model_name, champion.previous, model_store))
                else:
                    log.warning(
                        "previous version not in the bucket model=%s version=%s",
                        model_name,
                        champion.previous,
                    )
        for model_name, champion in champions.models.items():
            record_category(model_store, model_name, champion.category)
        update_champions(
            model_store,
            lambda local: local.model_copy(update={"models": {**local.models, **champions.models}}),
        )
        log.info("model store restored models=%d archives=%d", len(champions.models), len(placed))
        return Restored(champions, placed)

    # ---- delete ---------------------------------------------------------------------------------

    def delete_version(self, model_name: str, version: str) -> int:
        """Delete a version (its checksum first, so it stops being listed before its files go);
        refused for a version the champions manifest serves or keeps as previous. Returns how many
        objects besides the checksum were deleted (0 when there was no such version)."""
        if version in self.read_champions().protected_versions(model_name):
            raise VersionStoreError(
                f"{model_name} {version} is served or kept as the previous version by "
                f"{self.store.url(CHAMPIONS_KEY)}: move the champion first"
            )
        self.store.delete(checksum_key(model_name, version))
        removed = self.store.delete_prefix(version_prefix(model_name, version))
        log.info("version deleted model=%s version=%s objects=%d", model_name, version, removed)
        return removed

    # ---- champions manifest ---------------------------------------------------------------------

    def read_champions(self) -> Champions:
        """The bucket's `champions.json` (empty when there is none; `ContractError` when malformed)."""
        try:
            text = self.store.get_bytes(CHAMPIONS_KEY)
        except ObjectNotFoundError:
            return Champions()
        try:
            return Champions.model_validate_json(text)
        except ValidationError as exc:
            raise ContractError(
                f"{self.store.url(CHAMPIONS_KEY)}: not a valid champions manifest: {describe_errors(exc)}"
            ) from None

    def write_champions(self, champions: Champions) -> None:
        """Replace `champions.json` in one PUT (readers see the old manifest or the new one), after
        checking that every champion it names is a complete version whose SHA-256 it records
        correctly when it records one: the bucket never names a version it cannot restore."""
        complete = self.complete_versions()
        for model_name, champion in champions.models.items():
            if champion.version not in complete.get(model_name, []):
                raise VersionStoreError(
                    f"champions.json names {model_name} {champion.version}, which is not a complete "
                    f"version in {self.store.url()}: push it first"
                )
            if champion.archive_sha256 is not None:
                stored = self._stored_sha256(model_name, champion.version)
                if stored != champion.archive_sha256.lower():
                    raise VersionStoreError(
                        f"champions.json gives {model_name} {champion.version} SHA-256 "
                        f"{champion.archive_sha256}, the bucket holds {stored}"
                    )
        self.store.put_bytes(CHAMPIONS_KEY, champions.model_dump_json(indent=2).encode("utf-8") + b"\n")
        log.info("champions written models=%d url=%s", len(champions.models), self.store.url(CHAMPIONS_KEY))

    # ---- internals ------------------------------------------------------------------------------

    def _stored_sha256(self, model_name: str, version: str) -> str | None:
        """The version's recorded SHA-256, None while it is not completely pushed."""
        key = checksum_key(model_name, version)
        try:
            text = self.store.get_bytes(key).decode("ascii", errors="replace")
        except ObjectNotFoundError:
            return None
        digest = text.split(maxsplit=1)[0].lower() if text.strip() else ""
        if not _SHA256.match(digest):
            raise TamperedArchiveError(f"{self.store.url(key)} holds no SHA-256: not served")
        return digest

    def _require_sha256(self, model_name: str, version: str) -> str:
        digest = self._stored_sha256(model_name, version)
        if digest is None:
            raise VersionStoreError(
                f"no complete version {model_name} {version} in {self.store.url()} "
                f"(at {self.store.where}): it was never pushed, or its push did not finish"
            )
        return digest


def _complete(keys: list[str]) -> dict[str, list[str]]:
    """model name → versions, oldest first, among `keys` that are a version's checksum."""
    found: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split("/")
        if len(parts) != 4 or not _MODEL_NAME.match(parts[1]) or not is_version(parts[2]):
            continue
        if parts[3] == archive_file_name(parts[1], parts[2]) + SHA256_SUFFIX:
            found.setdefault(parts[1], []).append(parts[2])
    return {name: sorted(versions) for name, versions in sorted(found.items())}


def _check_model_name(model_name: str) -> None:
    if not _MODEL_NAME.match(model_name):
        raise VersionStoreError(f"invalid model name {model_name!r} (a category slug, e.g. `home-garden`)")


def _check_names(model_name: str, version: str) -> None:
    _check_model_name(model_name)
    if not is_version(version):
        raise VersionStoreError(f"invalid version {version!r} (YYYYMMDD.HHMMSS)")


def _check_file_name(name: str, model_name: str, version: str) -> None:
    """A version's other file: a relative path without `.`/`..` parts, not the archive or a checksum."""
    parts = PurePosixPath(name).parts
    if (
        not parts
        or name.startswith("/")
        or any(part in {".", ".."} for part in name.split("/"))
        or name.endswith(SHA256_SUFFIX)
        or name == archive_file_name(model_name, version)
    ):
        raise VersionStoreError(
            f"invalid file name {name!r} for a version: a relative path, not the archive or a .sha256"
        )
