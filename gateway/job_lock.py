"""The one-job-at-a-time lock: whoever holds it runs training jobs from the store, nobody else does.

Jobs run one at a time (parallel runs would lock the SQLite MLflow store and share the same cores).
The store is the queue; a gateway takes the lock before it takes a queued job, and holds it while the
job's process runs.
- `FileJobLock` (the embedded default): a non-blocking `flock` on a file beside `paths.jobs_db`, so
  gateways sharing one SQLite file on one machine never run two jobs either; the kernel frees it when
  the holder dies.
- `RedisJobLock` (`redis.url`): `SET key token NX PX ttl`, renewed every third of the TTL while held
  and released only by its own token (a Lua compare-and-delete), so a replica that died frees it
  after `redis.lock_ttl_s`. A holder that finds its lock gone (Redis unreachable for longer than the
  TTL, another holder since) reports `lost`, and the runner stops its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from pathlib import Path
from typing import Protocol

import redis

from core.settings import RedisSettings
from gateway.redis_connection import sync_client

log = logging.getLogger(__name__)

# Compare-and-act by token: only the holder renews or releases (the loaded-set mutex shares them).
RENEW_BY_TOKEN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
RELEASE_BY_TOKEN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class JobLock(Protocol):
    async def acquire(self) -> bool:
        """Take the lock if free (never waits); True when this process holds it now."""

    async def release(self) -> None: ...

    @property
    def lost(self) -> bool:
        """True once the lock held was found taken away (the running job must stop)."""

    def close(self) -> None: ...


class FileJobLock:
    """`flock` on `<jobs_db>.lock`: one job at a time among the processes sharing that job store."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    @property
    def lost(self) -> bool:
        return False  # the kernel never takes a flock away from a live holder

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class RedisJobLock:
    """The lock as one Redis key holding the holder's random token, with a TTL the holder renews."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float) -> None:
        self._client = client
        self._key = key
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._renew_script = client.register_script(RENEW_BY_TOKEN)
        self._release_script = client.register_script(RELEASE_BY_TOKEN)
        self._token: str | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._lost = False

    @classmethod
    def open(cls, settings: RedisSettings) -> RedisJobLock:
        return cls(sync_client(settings), f"{settings.key_prefix}job-lock", settings.lock_ttl_s)

    @property
    def lost(self) -> bool:
        return self._lost

    async def acquire(self) -> bool:
        if self._token is not None:
            return True
        token = uuid.uuid4().hex
        try:
            taken = await asyncio.to_thread(self._client.set, self._key, token, nx=True, px=self._ttl_ms)
        except redis.RedisError as exc:
            log.warning("one-job lock: Redis did not answer, no job starts here now: %s", exc)
            return False
        if not taken:
            return False
        self._token, self._lost = token, False
        self._renewer = asyncio.create_task(self._renew(token), name="salescast-job-lock-renewal")
        return True

    async def release(self) -> None:
        token, self._token = self._token, None
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if token is None:
            return
        try:
            await asyncio.to_thread(self._release_script, keys=[self._key], args=[token])
        except redis.RedisError as exc:  # it expires after the TTL anyway
            log.warning("one-job lock: release failed, it frees itself after its TTL: %s", exc)

    def close(self) -> None:
        self._client.close()

    async def _renew(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                renewed = await asyncio.to_thread(
                    self._renew_script, keys=[self._key], args=[token, self._ttl_ms]
                )
            except redis.RedisError as exc:  # a hiccup: the next renewal may still come in time
                log.warning("one-job lock: renewal failed: %s", exc)
                continue
            if not renewed:
                self._lost = True
                log.error("one-job lock: lost (expired or taken over); the running job stops")
                return
