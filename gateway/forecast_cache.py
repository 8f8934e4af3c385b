"""Cached answers of `GET /api/forecast/{category}`, keyed by everything the answer depends on.

The key holds the category's model name, the served version, the active dataset's SHA-256, its last
day, the horizon and the interval levels: a new version, new data or another question is another
key, so a stale answer is unreachable by construction. A deploy or a rollback also drops the
category's entries at once (`drop`): with `redis.url` the entries live in Redis, so a deploy through
one replica drops what every other replica would have answered from it.

- in process (no `redis.url`): an LRU of `redis.forecast_cache_entries` answers;
- in Redis: `forecast:<model>:<rest of the key>` strings with `redis.forecast_cache_ttl_s`, and a set
  per model (`forecast-keys:<model>`) naming them for `drop`.
A cache that does not answer is a miss (logged), never a failed forecast.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis
import redis.asyncio

from core.datasets import DatasetSource
from core.hashing import file_sha256
from core.settings import RedisSettings
from gateway.redis_connection import async_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForecastKey:
    model_name: str
    version: str
    dataset_sha256: str
    history_end: str
    horizon: int
    levels: tuple[float, ...] | None

    def text(self) -> str:
        levels = ",".join(f"{level:g}" for level in self.levels) if self.levels is not None else "default"
        parts = (self.model_name, self.version, self.dataset_sha256, self.history_end, self.horizon, levels)
        return ":".join(str(part) for part in parts)


class CacheBackend(Protocol):
    async def get(self, key: ForecastKey) -> bytes | None: ...

    async def put(self, key: ForecastKey, answer: bytes) -> None: ...

    async def drop(self, model_names: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


class LocalBackend:
    """An in-process LRU with a TTL per entry."""

    def __init__(self, entries: int, ttl_s: float) -> None:
        self._entries = entries
        self._ttl_s = ttl_s
        self._answers: OrderedDict[ForecastKey, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: ForecastKey) -> bytes | None:
        found = self._answers.get(key)
        if found is None:
            return None
        expires, answer = found
        if time.monotonic() > expires:
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return answer

    async def put(self, key: ForecastKey, answer: bytes) -> None:
        self._answers[key] = (time.monotonic() + self._ttl_s, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._entries:
            self._answers.popitem(last=False)

    async def drop(self, model_names: Sequence[str]) -> None:
        names = set(model_names)
        for key in [key for key in self._answers if key.model_name in names]:
            del self._answers[key]

    async def close(self) -> None:
        self._answers.clear()


class RedisBackend:
    """Entries shared by every replica on one Redis."""

    def __init__(self, client: redis.asyncio.Redis, prefix: str, ttl_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_s * 1000))

    async def get(self, key: ForecastKey) -> bytes | None:
        answer = await self._client.get(self._entry(key))
        return answer.encode() if isinstance(answer, str) else answer

    async def put(self, key: ForecastKey, answer: bytes) -> None:
        index = self._index(key.model_name)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._entry(key), answer, px=self._ttl_ms)
            pipe.sadd(index, self._entry(key))
            pipe.pexpire(index, self._ttl_ms)
            await pipe.execute()

    async def drop(self, model_names: Sequence[str]) -> None:
        for model_name in model_names:
            index = self._index(model_name)
            entries = await self._client.smembers(index)
            await self._client.delete(index, *entries)

    async def close(self) -> None:
        await self._client.aclose()

    def _entry(self, key: ForecastKey) -> str:
        return f"{self._prefix}forecast:{key.text()}"

    def _index(self, model_name: str) -> str:
        return f"{self._prefix}forecast-keys:{model_name}"


class ForecastCache:
    """The gateway's one forecast cache; `dataset_sha256` hashes the configured file once per change."""

    def __init__(self, backend: CacheBackend) -> None:
        self.backend = backend
        self._digests: dict[tuple[str, int, int], str] = {}

    @classmethod
    def open(cls, settings: RedisSettings) -> ForecastCache:
        if settings.url is None:
            return cls(LocalBackend(settings.forecast_cache_entries, settings.forecast_cache_ttl_s))
        return cls(RedisBackend(async_client(settings), settings.key_prefix, settings.forecast_cache_ttl_s))

    async def dataset_sha256(self, source: DatasetSource) -> str:
        """SHA-256 of the active dataset: an upload's recorded one, else the configured file's (hashed
        again only when its path, size or mtime change)."""
        if source.record is not None:
            return source.record.sha256
        stat = source.path.stat()
        mark = (str(source.path), stat.st_mtime_ns, stat.st_size)
        digest = self._digests.get(mark)
        if digest is None:
            digest = await asyncio.to_thread(file_sha256, source.path)
            self._digests = {mark: digest}
        return digest

    async def get(self, key: ForecastKey) -> bytes | None:
        try:
            return await self.backend.get(key)
        except redis.RedisError as exc:
            log.warning("forecast cache: read failed, computing: %s", exc)
            return None

    async def put(self, key: ForecastKey, answer: bytes) -> None:
        try:
            await self.backend.put(key, answer)
        except redis.RedisError as exc:
            log.warning("forecast cache: write failed: %s", exc)

    async def drop(self, model_names: Iterable[str]) -> None:
        """Forget every cached answer of these models (a deploy or a rollback changed what they serve)."""
        names = list(model_names)
        try:
            await self.backend.drop(names)
        except redis.RedisError as exc:
            log.error(
                "forecast cache: drop failed models=%s (entries expire by TTL): %s", ",".join(names), exc
            )
            return
        log.info("forecast cache dropped models=%s", ",".join(names))

    async def close(self) -> None:
        await self.backend.close()
