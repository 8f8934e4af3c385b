"""The gateway's API key kept in a file (`gateway.api_key_file`), for deployments with no key set.

`docker compose up` without SALESCAST_API_KEY must not leave training open to anyone who reaches
the gateway, yet must still start: the gateway creates the file with a random key on its first
start, and the UI (which holds the key server-side) reads the same file. An explicit
`gateway.api_key` always wins and the file is then ignored.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from pathlib import Path

from core.errors import SalescastError
from core.settings import Settings

logger = logging.getLogger(__name__)
KEY_BYTES = 32  # 256 bits of randomness, URL-safe base64 (43 characters)


class ApiKeyFileError(SalescastError):
    """The key file cannot be read or created; the message names the file and the setting."""


def with_api_key_from_file(settings: Settings, *, create: bool) -> Settings:
    """`settings` with `gateway.api_key` read from `gateway.api_key_file` when no key is set.

    `create` (the gateway) writes a new random key when the file is missing; without it (the UI) a
    missing file is an error telling to start the gateway first.
    """
    gateway = settings.gateway
    if gateway.api_key or gateway.api_key_file is None:
        return settings
    path = gateway.api_key_file
    if not path.exists():
        if not create:
            raise ApiKeyFileError(
                f"gateway.api_key_file {path} does not exist: the gateway creates it on its first "
                "start, so start the gateway first (or set SALESCAST_API_KEY)"
            )
        _create(path)
    key = _read(path)
    return settings.with_overrides({"gateway": {"api_key": key}})


def _create(path: Path) -> None:
    """Write a new random key to `path` unless a key is there already, never visible half-written.

    The key goes to an owner-only (0600) temp file beside `path`, which is then hard-linked to `path`:
    the link appears complete or not at all, and fails if `path` exists, so two gateways starting at
    once agree on the first key and a gateway or the UI never reads an empty file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path)
    except FileExistsError:
        if path.exists():
            return  # created by another gateway in the meantime
        raise _cannot_create(path, "a parent is not a folder") from None
    except OSError as exc:
        raise _cannot_create(path, exc.strerror or str(exc)) from None
    finally:
        with contextlib.suppress(OSError):  # no temp file (nor folder) when creating it failed
            tmp.unlink(missing_ok=True)
    logger.warning(
        "generated an API key in %s (gateway.api_key_file): send it as X-API-Key to train, deploy "
        "or pin versions; set SALESCAST_API_KEY to choose your own",
        path,
    )


def _publish(tmp: Path, path: Path) -> None:
    """Link `tmp` as `path` (FileExistsError if it exists); on a file system without hard links,
    rename it there unless `path` appeared meanwhile."""
    try:
        os.link(tmp, path)
    except OSError as exc:  # FileExistsError (EEXIST) is raised as it is
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(path)) from None
        tmp.replace(path)


def _cannot_create(path: Path, reason: str) -> ApiKeyFileError:
    return ApiKeyFileError(
        f"cannot create gateway.api_key_file {path}: {reason}; make its folder writable or set "
        "SALESCAST_API_KEY"
    )


def _read(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ApiKeyFileError(f"cannot read gateway.api_key_file {path}: {exc.strerror}") from None
    if not key:
        raise ApiKeyFileError(
            f"gateway.api_key_file {path} is empty: delete it to have the gateway generate a key, "
            "or write your key into it"
        )
    return key
