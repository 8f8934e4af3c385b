"""The retrain scheduler's election and state in Redis (`redis.url`): one scheduler among every gateway
replica on any host, where the `flock` on `paths.run` elects one per machine only.

The lock is one key, `<prefix>retrain-scheduler`, holding the holder's token (`<random>:<pid>`) with a
TTL that every tick renews (at least three scheduler polls, so a live holder never loses it between
ticks); a holder that dies stops renewing and another replica takes over when the key expires. The
schedule's state (`ScheduleRecord`) is the JSON of `<prefix>retrain-schedule`, read by every replica.
Redis not answering: no replica holds the lock (nothing is filed twice), and `GET /api/schedule` is a 503.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from typing import Any

import redis

from core.settings import RedisSettings
from gateway.job_lock import RELEASE_BY_TOKEN, RENEW_BY_TOKEN
from gateway.redis_connection import answered, redacted_url, sync_client

log = logging.getLogger(__name__)
MIN_POLLS_PER_TTL = 3
"""The lock outlives this many scheduler polls: one slow tick must not hand it over."""


class RedisSchedulerLock:
    """`SchedulerLock`'s interface over one Redis key with a renewed TTL."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: float, where: str) -> None:
        self._client = client
        self._key = f"{prefix}retrain-scheduler"
        self._state_key = f"{prefix}retrain-schedule"
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._where = where
        self._renew = client.register_script(RENEW_BY_TOKEN)
        self._release = client.register_script(RELEASE_BY_TOKEN)
        self._token: str | None = None

    @classmethod
    def open(cls, settings: RedisSettings, poll_s: float) -> RedisSchedulerLock:
        assert settings.url is not None
        ttl_s = max(settings.lock_ttl_s, MIN_POLLS_PER_TTL * poll_s)
        return cls(sync_client(settings), settings.key_prefix, ttl_s, redacted_url(settings.url))

    @property
    def held(self) -> bool:
        return self._token is not None

    def try_acquire(self) -> bool:
        """Renew the lock if this process holds it, else take it if free; never waits. False (and
        not held) when Redis does not answer."""
        try:
            if self._token is not None:
                if self._renew(keys=[self._key], args=[self._token, self._ttl_ms]):
                    return True
                log.warning("retrain scheduler lost its lock in Redis (expired); trying to take it again")
                self._token = None
            token = f"{uuid.uuid4().hex}:{os.getpid()}"
            if self._client.set(self._key, token, nx=True, px=self._ttl_ms):
                self._token = token
                return True
            return False
        except redis.RedisError as exc:
            log.warning(
                "retrain scheduler: Redis (%s) did not answer, not scheduling here: %s", self._where, exc
            )
            self._token = None
            return False

    def release(self) -> None:
        token, self._token = self._token, None
        if token is not None:
            try:
                self._release(keys=[self._key], args=[token])
            except redis.RedisError as exc:  # the key expires by itself
                log.warning("retrain scheduler: could not release its lock in Redis: %s", exc)

    def holder_pid(self) -> int | None:
        """The pid in the holder's token (on whichever host it runs), or None when no one holds it."""
        if self._token is not None:
            return os.getpid()
        value = self._call(lambda: self._client.get(self._key))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        pid = text.rpartition(":")[2]
        return int(pid) if pid.isdigit() else None

    def read_state(self) -> bytes | None:
        """The schedule's JSON, None before any replica saved one."""
        value = self._call(lambda: self._client.get(self._state_key))
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    def write_state(self, payload: str) -> None:
        self._call(lambda: self._client.set(self._state_key, payload))

    def close(self) -> None:
        self._client.close()

    def _call(self, command: Callable[[], Any]) -> Any:
        return answered(command, "the retrain schedule in Redis", self._where)
