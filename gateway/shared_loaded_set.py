"""The loaded set shared by gateway replicas in front of one TorchServe (`redis.url` with a budget).

Each replica's `LoadedModels` keeps its own in-flight counts and a local copy of what is loaded (its
fast path); what TorchServe holds is decided here, in Redis, so that the replicas together stay
within `torchserve.max_loaded_models`:
- `<prefix>loaded:<scope>`: a sorted set of `model@version` members scored by last use (wall-clock
  seconds). A member holds a worker, so a replica that finds its version there uses it unloaded.
- `<prefix>loaded-lock:<scope>`: the mutex held around every decision *and the load or unload it
  makes* (SET NX PX with a random token, renewed while held, released by its token): a member is
  added only once its worker is ready, so no replica ever uses a version half loaded.
- `<prefix>loaded-headroom:<scope>`: the slots a running training job keeps free for its deploys
  (one job at a time across replicas, by the one-job lock); it expires unless its holder renews it.

`scope` is the TorchServe management URL (or the shard map's name), so gateways of different
servers on one Redis keep apart. A use is recorded at most once per `TOUCH_INTERVAL_S` per version
and replica: the hot path pays one Redis round trip a second per version, not one per prediction.

A replica does not know the requests other replicas have in flight, and TorchServe leaves a request
queued for a version whose worker is stopped unanswered until the caller's deadline. So a version
is retired before its unload: taken out of the set (a replica then recording a use finds it gone
and waits for a load), then kept until every request another replica may have begun on it is
answered or timed out — its last recorded use, plus `TOUCH_INTERVAL_S` (a replica begins requests
that long without recording them), plus `gateway.predict_timeout_s`. A version idle that long goes
at once. Scores are wall-clock seconds: replicas on several machines need their clocks in sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import asynccontextmanager
from typing import TypeVar, cast

import redis
import redis.asyncio

from core.settings import Settings
from gateway.errors import ModelServerUnavailableError
from gateway.job_lock import RELEASE_BY_TOKEN, RENEW_BY_TOKEN
from gateway.redis_connection import SharedStateUnavailableError, async_client, unreachable_message

log = logging.getLogger(__name__)

T = TypeVar("T")

Key = tuple[str, str]  # (model name, version)
TOUCH_INTERVAL_S = 1.0  # a replica records a version's use in Redis at most this often
MUTEX_POLL_S = 0.01  # how often a replica waiting for another's decision asks again

# Move a member to "used now" only while it is still in the set (another replica may have unloaded it).
_TOUCH = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) return 1 end
return 0
"""
# Take a member out and return its last use, in one step (no use recorded in between goes unseen).
_RETIRE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then redis.call('ZREM', KEYS[1], ARGV[1]) end
return score
"""


def _member(key: Key) -> str:
    return f"{key[0]}@{key[1]}"


def _key(member: bytes) -> Key:
    model, _, version = member.decode().rpartition("@")
    return model, version


class SharedLoadedSet:
    """The budget's loaded set in Redis: read, changed and locked by every replica alike."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        url: str,
        prefix: str,
        scope: str,
        *,
        ttl_s: float,
        wait_s: float,
        request_s: float,
    ) -> None:
        self._client = client
        self._url = url
        self._set = f"{prefix}loaded:{scope}"
        self._mutex = f"{prefix}loaded-lock:{scope}"
        self._headroom = f"{prefix}loaded-headroom:{scope}"
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._wait_s = wait_s
        self._in_flight_s = TOUCH_INTERVAL_S + request_s  # after a last recorded use, nothing is in flight
        self._touch = client.register_script(_TOUCH)
        self._retire = client.register_script(_RETIRE)
        self._renew = client.register_script(RENEW_BY_TOKEN)
        self._release = client.register_script(RELEASE_BY_TOKEN)
        self._touched: dict[Key, float] = {}  # this replica's last record of a use (monotonic)
        self._touching: dict[Key, asyncio.Task[bool]] = {}  # records of a use under way
        self._headroom_renewer: asyncio.Task[None] | None = None

    @classmethod
    def open(cls, settings: Settings) -> SharedLoadedSet | None:
        """The shared set when the gateway has both a Redis and a budget; else None (the set is local)."""
        shared, served = settings.redis, settings.torchserve
        if shared.url is None or served.max_loaded_models is None:
            return None
        scope = f"shards:{served.shard_map.name}" if served.shard_map else served.management_base_url
        # A waiting replica waits for one decision of another: a retired version's requests, a drain, a load.
        request_s = settings.gateway.predict_timeout_s
        wait_s = (
            TOUCH_INTERVAL_S + request_s + settings.archive.response_timeout_s + served.cold_load_timeout_s
        )
        client = async_client(shared)
        return cls(
            client,
            shared.url,
            shared.key_prefix,
            scope,
            ttl_s=shared.lock_ttl_s,
            wait_s=wait_s,
            request_s=request_s,
        )

    async def close(self) -> None:
        await self.unreserve()
        await self._client.aclose()

    @asynccontextmanager
    async def decision(self) -> AsyncIterator[None]:
        """Hold the mutex while deciding, loading and unloading; waits for another replica's turn."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self._wait_s
        while not await self._call(self._client.set(self._mutex, token, nx=True, px=self._ttl_ms)):
            if time.monotonic() > deadline:
                raise ModelServerUnavailableError(
                    f"another gateway replica held the loaded set's lock for over {self._wait_s:g} s"
                )
            await asyncio.sleep(MUTEX_POLL_S)
        renewer = asyncio.create_task(self._keep_mutex(token), name="salescast-loaded-set-lock")
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            try:
                await self._release(keys=[self._mutex], args=[token])
            except redis.RedisError as exc:  # it expires after its TTL anyway
                log.warning("loaded-set lock: release failed, it frees itself after its TTL: %s", exc)

    async def members(self) -> list[Key]:
        """The versions holding a worker, least recently used first."""
        members = cast(list[bytes], await self._call(self._client.zrange(self._set, 0, -1)))
        return [_key(member) for member in members]

    async def holds(self, key: Key) -> bool:
        return await self._call(self._client.zscore(self._set, _member(key))) is not None

    async def add(self, key: Key) -> None:
        """`key` now holds a worker (loaded under the mutex), used now."""
        await self._call(self._client.zadd(self._set, {_member(key): time.time()}))
        self._touched[key] = time.monotonic()

    async def retire(self, key: Key) -> None:
        """Take `key` out of the set, then return once no other replica can have a request on it in
        flight (its unload may follow)."""
        last_use = await self._call(self._retire(keys=[self._set], args=[_member(key)]))
        self._touched.pop(key, None)
        if last_use is not None:
            wait_s = float(last_use) + self._in_flight_s - time.time()
            if wait_s > 0:
                log.info("waiting %.2f s for other replicas' requests on model=%s version=%s", wait_s, *key)
                await asyncio.sleep(min(wait_s, self._in_flight_s))

    async def seed(self, least_recent_first: list[Key]) -> bool:
        """Start the set from TorchServe's state unless another replica did (under the mutex); True
        when this call seeded it."""
        if await self._call(self._client.exists(self._set)):
            return False
        if least_recent_first:
            oldest = time.time() - len(least_recent_first)
            scores = {_member(key): oldest + index for index, key in enumerate(least_recent_first)}
            await self._call(self._client.zadd(self._set, scores))
        return True

    async def replace_models(self, models: Iterable[str], kept: list[Key], newest: list[Key]) -> None:
        """After a deploy: `models`' members become `kept` (least recent of all: unloaded first) and
        `newest` (the default versions, used now)."""
        names = set(models)
        stale = [_member(key) for key in await self.members() if key[0] in names]
        scores = {_member(key): 0.0 for key in kept} | {_member(key): time.time() for key in newest}
        async with self._client.pipeline(transaction=True) as pipe:
            if stale:
                pipe.zrem(self._set, *stale)
            if scores:
                pipe.zadd(self._set, scores)
            await self._call(pipe.execute())

    def due(self, key: Key) -> bool:
        """True unless this replica recorded a use of `key`, and heard it was still in the set,
        within `TOUCH_INTERVAL_S` (while a record is under way, its callers wait for its answer)."""
        return (
            key in self._touching or time.monotonic() - self._touched.get(key, -math.inf) >= TOUCH_INTERVAL_S
        )

    async def touch(self, key: Key) -> bool:
        """Record a use of `key`; False when it left the set (another replica unloaded it). Concurrent
        callers share one record. A Redis that does not answer does not stop the prediction (the next
        decision will need it)."""
        task = self._touching.get(key)
        if task is None:
            task = asyncio.create_task(self._record_use(key))
            self._touching[key] = task
            task.add_done_callback(lambda _: self._touching.pop(key, None))
        return await asyncio.shield(task)

    async def _record_use(self, key: Key) -> bool:
        started = time.monotonic()  # the moment of the score: requests begin until a second after it
        try:
            held = bool(await self._touch(keys=[self._set], args=[_member(key), time.time()]))
        except redis.RedisError as exc:
            log.warning("loaded set: could not record the use of model=%s version=%s: %s", *key, exc)
            return True
        if held:
            self._touched[key] = started
        return held

    async def reserved(self) -> int:
        """Slots a running training job keeps free."""
        value = await self._call(self._client.get(self._headroom))
        return int(value) if value is not None else 0

    async def reserve(self, slots: int) -> None:
        """Keep `slots` free for this replica's training job until `unreserve` (renewed meanwhile)."""
        await self._call(self._client.set(self._headroom, slots, px=self._ttl_ms))
        self._headroom_renewer = asyncio.create_task(self._keep_headroom(), name="salescast-loaded-headroom")

    async def unreserve(self) -> None:
        renewer, self._headroom_renewer = self._headroom_renewer, None
        if renewer is None:
            return
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        try:
            await self._client.delete(self._headroom)
        except redis.RedisError as exc:  # it expires after its TTL anyway
            log.warning("loaded set: could not free the deploy headroom, it expires after its TTL: %s", exc)

    async def _keep_mutex(self, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                renewed = await self._renew(keys=[self._mutex], args=[token, self._ttl_ms])
            except redis.RedisError as exc:  # a hiccup: the next renewal may still come in time
                log.warning("loaded-set lock: renewal failed: %s", exc)
                continue
            if not renewed:
                log.error("loaded-set lock: lost while deciding (expired); another replica may decide too")
                return

    async def _keep_headroom(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self._client.pexpire(self._headroom, self._ttl_ms)
            except redis.RedisError as exc:
                log.warning("loaded set: deploy headroom renewal failed: %s", exc)

    async def _call(self, command: Awaitable[T]) -> T:
        """Await one Redis command; a Redis that does not answer is a 503 naming it."""
        try:
            return await command
        except redis.RedisError as exc:
            raise SharedStateUnavailableError(unreachable_message(self._url, exc)) from None
