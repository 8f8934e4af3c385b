"""The one owner of what TorchServe holds in memory: which registered versions have a worker.

Every version is registered (an archive TorchServe knows, ~70 ms and a few kB to register) but only
a *loaded* one has a worker (~150 MB). With `torchserve.max_loaded_models` set, at most that many
versions are loaded: a request for one that is not loads it on demand (concurrent requests for it
wait for the one load, and count as in flight on it the moment it is ready, so no other load evicts
it before they are answered), and the least recently used version is unloaded first, after the
requests in flight on it have drained. Loads under way hold their slots: when they alone fill the
budget, the next load waits for one of them. Without a budget every version a request reaches is
kept loaded.

One gateway process is the owner of a TorchServe; with `redis.url` set, several replicas in front
of one TorchServe share the set (`gateway.shared_loaded_set`): every decision, with the load or
unload it makes, is taken under one Redis mutex against one sorted set of loaded versions scored by
last use, so they stay within the budget together. A version another replica loaded is used as it
is; the one unloaded is the least recently used with nothing in flight *here*, once the requests
other replicas may have begun on it are answered. A version known loaded here and confirmed in
Redis within the last second is used without asking Redis. A training job
deploys from its own process, so while one runs the owner keeps `DEPLOY_HEADROOM`
slots free for the job's new version and its draining predecessor, and takes each deployed
category's versions from TorchServe once the job has moved on (`reconcile`). The order of use is
written to the model store's `usage.json`, so the next start of TorchServe loads hot ones first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings
from gateway.errors import ModelServerUnavailableError
from serving.management_client import ManagementClient, ManagementError, ModelDescription
from serving.usage_order import write_usage_order
from serving.workers import WorkerLoadError, load_workers, unload_workers

if TYPE_CHECKING:
    from gateway.shared_loaded_set import SharedLoadedSet

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (model name, version)
DEPLOY_HEADROOM = 2  # a deploying job's new version + the old one draining beside it


class LoadedModels:
    """LRU set of loaded versions under a budget; `use()` wraps every inference call."""

    def __init__(
        self, settings: Settings, management: ManagementClient, shared: SharedLoadedSet | None = None
    ) -> None:
        self._management = management
        self._shared = shared  # the set other replicas share (redis.url), else None: this one decides alone
        self._budget = settings.torchserve.max_loaded_models
        self._workers = settings.archive.workers
        self._load_timeout_s = settings.torchserve.cold_load_timeout_s
        self._drain_timeout_s = float(settings.archive.response_timeout_s)
        self._store: Path = settings.paths.model_store
        self._loaded: OrderedDict[Key, None] = OrderedDict()  # least recently used first
        self._inflight: Counter[Key] = Counter()
        self._waiting: Counter[Key] = Counter()  # requests waiting for the load of a version
        self._drained: dict[Key, asyncio.Event] = {}
        self._loading: dict[Key, asyncio.Task[None]] = {}
        self._reserved = 0  # slots promised to loads under way and to deploying jobs
        self._loads_under_way = 0
        self._load_ended = asyncio.Event()
        self._decide = asyncio.Lock()  # one decision on the set at a time
        self._unsure: set[Key] = set()  # found without a worker here: the shared set may be wrong on it
        self.loads = 0
        self.evictions = 0
        self.peak = 0

    @property
    def budget(self) -> int | None:
        return self._budget

    def is_loaded(self, model: str, version: str) -> bool:
        return (model, version) in self._loaded

    def loaded(self) -> list[Key]:
        """Loaded versions, least recently used first."""
        return list(self._loaded)

    @asynccontextmanager
    async def use(self, model: str, version: str) -> AsyncIterator[None]:
        """Hold `version` loaded for one inference call (loading it first when it is not)."""
        key = (model, version)
        if key in self._loaded:
            self._inflight[key] += 1
            if self._shared is not None and self._shared.due(key):
                await self._confirm(key)
        else:
            await self._load(key)  # counts this request in flight once the version is ready
        if key in self._loaded:  # (not when an unload is draining it already: it waits for this request)
            self._loaded.move_to_end(key)
        try:
            yield
        finally:
            self._leave(key)

    def _leave(self, key: Key) -> None:
        self._inflight[key] -= 1
        if self._inflight[key] <= 0:
            del self._inflight[key]
            event = self._drained.pop(key, None)
            if event is not None:
                event.set()

    async def _confirm(self, key: Key) -> None:
        """Record the use in the shared set; a version another replica unloaded is loaded again."""
        assert self._shared is not None
        try:
            held = await self._shared.touch(key)
        except BaseException:
            self._leave(key)
            raise
        if not held:
            self._leave(key)
            self._loaded.pop(key, None)
            await self._load(key)

    def forget(self, model: str, version: str) -> None:
        """TorchServe said the version has no worker (restarted, scaled elsewhere): load it next time."""
        self._loaded.pop((model, version), None)
        self._unsure.add((model, version))

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()

    @asynccontextmanager
    async def _deciding(self) -> AsyncIterator[None]:
        """One decision on the set at a time: in this process, and across replicas when shared."""
        async with self._decide:
            if self._shared is None:
                yield
            else:
                async with self._shared.decision():
                    yield

    def adopt(self, described: Iterable[ModelDescription], recent_first: list[str]) -> None:
        """Take TorchServe's state as it is (at start-up): versions with a ready worker are loaded."""
        rank = {name: index for index, name in enumerate(recent_first)}
        ready = [d for d in described if d.ready_workers > 0]
        ready.sort(key=lambda d: -rank.get(d.name, len(rank)))  # least recent first
        self._loaded = OrderedDict(((d.name, d.version), None) for d in ready)
        self.peak = max(self.peak, len(self._loaded))

    async def fit_budget(self) -> None:
        """Unload the least recently used versions until the set fits (after adopting more); the
        first replica seeds the shared set with what it adopted."""
        async with self._deciding():
            if self._shared is not None:
                await self._shared.seed(list(self._loaded))
            await self._make_room(0)

    @asynccontextmanager
    async def deploy_headroom(self) -> AsyncIterator[None]:
        """Keep room for a training job's deploys while it runs."""
        if self._budget is None:
            yield
            return
        async with self._deciding():
            await self._make_room(DEPLOY_HEADROOM)
            if self._shared is not None:
                await self._shared.reserve(DEPLOY_HEADROOM)
            else:
                self._reserved += DEPLOY_HEADROOM
        try:
            yield
        finally:
            if self._shared is not None:
                await self._shared.unreserve()
            else:
                self._reserved -= DEPLOY_HEADROOM

    async def reconcile(self, models: Iterable[str]) -> None:
        """Take what TorchServe holds for `models` after a deploy made elsewhere (a training job):
        the default version is the most recent, any other loaded version goes first when room is
        needed (it stays registered for a rollback); then the set is fitted to its budget."""
        models = list(models)
        async with self._deciding():
            before = set(self._loaded)
            newest: list[Key] = []
            for model in models:
                try:
                    described = await self._management.describe_all(model)
                except ManagementError as exc:
                    if exc.status_code != 404:
                        raise
                    described = []
                for key in [key for key in self._loaded if key[0] == model]:
                    del self._loaded[key]
                default = await self._management.default_version(model) if described else None
                for description in described:
                    if description.ready_workers > 0:
                        key = (model, description.version)
                        self._loaded[key] = None
                        self._loaded.move_to_end(key, last=description.version == default)
                        if description.version == default:
                            newest.append(key)
            if self._shared is not None:
                kept = [key for key in self._loaded if key[0] in models and key not in newest]
                await self._shared.replace_models(models, kept, newest)
            self.peak = max(self.peak, len(self._loaded))
            await self._make_room(0)
            if set(self._loaded) != before:  # a failed job changed nothing: leave the store untouched
                self._save_usage()

    async def _load(self, key: Key) -> None:
        """Wait for the one load of `key`; it returns with this request counted in flight on it."""
        task = self._loading.get(key)
        if task is None or task.done():  # a finished load counted only the requests it had then
            task = asyncio.create_task(self._load_once(key))
            self._loading[key] = task
            task.add_done_callback(partial(self._load_done, key))
        self._waiting[key] += 1
        try:
            await asyncio.shield(task)
        except BaseException:
            if task.done() and not task.cancelled() and task.exception() is None:
                self._leave(key)  # the load counted this request, which was cancelled meanwhile
            else:
                self._waiting[key] -= 1
                if self._waiting[key] <= 0:
                    del self._waiting[key]
            raise

    def _load_done(self, key: Key, task: asyncio.Task[None]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]

    async def _load_once(self, key: Key) -> None:
        """Load `key`, then count every request waiting for it in flight (in one step: no other
        load can evict it before they are answered)."""
        if self._shared is not None:
            async with self._deciding():
                await self._load_shared(key)
            self._inflight[key] += self._waiting.pop(key, 0)
            return
        async with self._decide:
            loading = key not in self._loaded
            if loading:
                await self._make_room(1)
                self._reserved += 1
                self._loads_under_way += 1
        if loading:
            try:
                await self._load_workers(key)
            finally:
                self._reserved -= 1
                self._loads_under_way -= 1
                self._load_ended.set()
        self._inflight[key] += self._waiting.pop(key, 0)

    async def _load_shared(self, key: Key) -> None:
        """Under the shared mutex: use `key` when another replica loaded it, else make room and load."""
        assert self._shared is not None
        if key not in self._unsure and await self._shared.holds(key):
            self._loaded[key] = None
            await self._shared.touch(key)
            return
        await self._make_room(1)
        await self._load_workers(key)
        await self._shared.add(key)
        self._unsure.discard(key)

    async def _load_workers(self, key: Key) -> None:
        model, version = key
        started = time.monotonic()
        try:
            await load_workers(self._management, model, version, self._workers, self._load_timeout_s)
        except (ManagementError, WorkerLoadError) as exc:
            message = exc.message if isinstance(exc, ManagementError) else str(exc)
            raise ModelServerUnavailableError(
                f"model server could not load {model} version {version}: {message}"
            ) from exc
        self._loaded[key] = None
        self.loads += 1
        self.peak = max(self.peak, len(self._loaded))
        log.info("model loaded model=%s version=%s seconds=%.2f", model, version, time.monotonic() - started)
        self._save_usage()

    async def _make_room(self, slots: int) -> None:
        """Unload least recently used versions until `slots` more fit beside the reservations."""
        if self._budget is None:
            return
        if self._shared is not None:
            await self._make_shared_room(slots)
            return
        while len(self._loaded) + self._reserved + slots > self._budget:
            if self._loaded:
                await self._unload(self._victim())
            elif self._loads_under_way:  # they hold the room: evict one once its requests are answered
                self._load_ended.clear()
                await self._load_ended.wait()
            else:  # only a job's headroom is reserved (a budget below it): load beside it
                return

    async def _make_shared_room(self, slots: int) -> None:
        """Under the shared mutex: unload the least recently used versions of every replica (first
        those with nothing in flight here) until `slots` more fit beside a job's headroom."""
        assert self._shared is not None and self._budget is not None
        members = await self._shared.members()
        for key in [key for key in self._loaded if key not in members]:
            del self._loaded[key]  # another replica unloaded it
        reserved = await self._shared.reserved()
        while members and len(members) + reserved + slots > self._budget:
            victim = next((key for key in members if not self._inflight.get(key)), members[0])
            await self._shared.retire(victim)
            await self._unload(victim)
            members.remove(victim)

    def _victim(self) -> Key:
        """The least recently used version with nothing in flight, else the least recently used."""
        for key in self._loaded:
            if not self._inflight.get(key):
                return key
        return next(iter(self._loaded))

    async def _unload(self, key: Key) -> None:
        self._loaded.pop(key, None)  # new requests for it now wait for a load
        if self._inflight.get(key):
            event = self._drained.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), self._drain_timeout_s)
            except TimeoutError:
                log.warning("unloading model=%s version=%s with requests still in flight", *key)
        try:
            await unload_workers(self._management, *key)
        except ManagementError as exc:
            if exc.status_code != 404:  # a version unregistered meanwhile holds no worker either
                log.warning("could not unload model=%s version=%s: %s", key[0], key[1], exc)
        self.evictions += 1
        log.info("model unloaded model=%s version=%s", *key)

    def _save_usage(self) -> None:
        recent_first = list(dict.fromkeys(model for model, _ in reversed(self._loaded)))
        try:
            write_usage_order(self._store, recent_first)
        except OSError as exc:
            log.warning("cannot record the order of use in %s: %s", self._store, exc)
