"""What TorchServe serves right now, per category: default version, window size N, test metrics.

Which models exist and which version of each is the default comes from TorchServe's management API
(one list call per refresh; a model is described again only when it is new, after a swap, or when
an inference answer names another version). The facts of a version — category, N, horizon, metrics
— come from the index of archived versions (`serving.version_index`), read from the archives the
handler describes itself from, since with a memory budget most versions have no worker to ask; the
handler's own describe is the fallback for a version registered from outside the model store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.contracts.manifest import ClassicalPart, Fallback
from core.contracts.metrics import Backtest
from core.contracts.served import ServedVersionInfo
from core.settings import Settings
from gateway.errors import ModelServerUnavailableError, UnknownCategoryError
from gateway.loaded_models import LoadedModels
from serving.management_client import ManagementError, ModelDescription, ModelSummary
from serving.usage_order import read_usage_order
from serving.version_index import VersionIndex

log = logging.getLogger(__name__)
_RETRY_UNKNOWN_S = 1.0
_DESCRIBE_CONCURRENCY = 8  # describe calls in flight while a refresh learns new models


class ManagementApi(Protocol):
    """The part of `serving.management_client.ManagementClient` the registry needs."""

    async def list_models(self) -> list[ModelSummary]: ...

    async def describe(self, model: str, version: str | None = None) -> list[ModelDescription]: ...

    async def describe_all(self, model: str) -> list[ModelDescription]: ...

    async def served_info(self, model: str, version: str) -> ServedVersionInfo: ...


@dataclass(frozen=True)
class VersionFacts:
    """Immutable facts of one trained version, as its handler describes them (None: not known yet)."""

    category: str | None
    window_size: int | None
    test_metrics: dict[str, Any] | None
    max_horizon: int = 1
    backtest: Backtest | None = None
    fallback: Fallback | None = None
    classical: ClassicalPart | None = None
    calendar: dict[str, Any] | None = None  # the handler's calendar summary (None: no calendar terms)
    weekday_input: bool = False  # its model reads the weekday from `last_date` (format 3)

    @classmethod
    def from_info(cls, info: ServedVersionInfo) -> VersionFacts:
        metrics = {name: scores.model_dump() for name, scores in info.metrics.items()}
        return cls(
            category=info.category,
            window_size=info.window_size,
            test_metrics=metrics or None,
            max_horizon=info.max_horizon,
            backtest=info.backtest,
            fallback=info.fallback,
            classical=info.classical,
            calendar=info.calendar,
            weekday_input=info.weekday_input,
        )


UNKNOWN_FACTS = VersionFacts(category=None, window_size=None, test_metrics=None)


@dataclass(frozen=True)
class ServedVersion:
    version: str
    is_default: bool
    ready_workers: int
    facts: VersionFacts
    loaded: bool = False


@dataclass(frozen=True)
class ServedModel:
    """A category's model as TorchServe serves it by default."""

    category: str
    model_name: str
    version: str
    window_size: int | None
    test_metrics: dict[str, Any] | None
    ready_workers: int
    versions: list[ServedVersion] = field(default_factory=list)
    max_horizon: int = 1
    backtest: Backtest | None = None
    fallback: Fallback | None = None
    classical: ClassicalPart | None = None
    calendar: dict[str, Any] | None = None
    weekday_input: bool = False

    @property
    def uses_last_date(self) -> bool:
        """Whether a forecast should send the date of the last value: calendar terms or the weekday."""
        return self.calendar is not None or self.weekday_input


class ModelRegistry:
    """Cached view of TorchServe's models; `resolve(category)` is a dict lookup on the hot path."""

    def __init__(
        self,
        settings: Settings,
        management: ManagementApi,
        loaded: LoadedModels | None = None,
        index: VersionIndex | None = None,
    ) -> None:
        self._settings = settings
        self._management = management
        self._loaded = loaded
        self._index = index if index is not None else VersionIndex(settings.paths.model_store)
        self._models: dict[str, ServedModel] = {}
        self._defaults: dict[str, ModelDescription] = {}  # model name → its default version's describe
        self._stale: set[str] = set()  # models to describe again at the next refresh
        self._facts: dict[tuple[str, str], VersionFacts] = {}
        self._refreshed_at = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    @property
    def models(self) -> dict[str, ServedModel]:
        """Last known models by TorchServe model name."""
        return dict(self._models)

    def invalidate(self, model_name: str | None = None) -> None:
        """Describe `model_name` (every model when None) again at the next refresh, and refresh soon;
        facts of versions stay cached."""
        if model_name is None:
            self._stale.update(self._defaults)
        else:
            self._stale.add(model_name)
        self._refreshed_at = 0.0

    def note_answer(self, model_name: str, version: str) -> None:
        """An inference answer came from `version`; refresh soon if that is not the cached default."""
        cached = self._models.get(model_name)
        if cached is None or cached.version != version:
            log.info("served version changed model=%s version=%s", model_name, version)
            self.invalidate(model_name)

    async def refresh(self) -> dict[str, ServedModel]:
        """List TorchServe's models, describing only new or changed ones (raises
        ModelServerUnavailableError)."""
        requested_at = time.monotonic()
        async with self._lock:
            if self._refreshed_at > requested_at:  # another request refreshed while this one waited
                return dict(self._models)
            try:
                names = [summary.name for summary in await self._management.list_models()]
                await self._describe_defaults([n for n in names if self._needs_describe(n)])
            except ManagementError as exc:
                if exc.status_code < 500:
                    raise
                raise ModelServerUnavailableError(f"model server is unavailable: {exc.message}") from exc
            await asyncio.to_thread(self._index.scan)  # new archives are opened: off the event loop
            listed = set(names)
            self._defaults = {name: d for name, d in self._defaults.items() if name in listed}
            self._models = {
                name: await self._served_model(description)
                for name, description in sorted(self._defaults.items())
            }
            self._refreshed_at = time.monotonic()
            return dict(self._models)

    def _needs_describe(self, name: str) -> bool:
        """New, swapped, or — without a memory budget — still waiting for its worker (health waits
        on it; under a budget a version without a worker is simply archived)."""
        known = self._defaults.get(name)
        if known is None or name in self._stale:
            return True
        unbudgeted = self._loaded is None or self._loaded.budget is None
        return unbudgeted and known.ready_workers == 0

    async def adopt_loaded(self) -> None:
        """At start-up: tell the loaded set which registered versions hold a worker, and fit its budget."""
        if self._loaded is None:
            return
        await self.refresh()
        limit = asyncio.Semaphore(_DESCRIBE_CONCURRENCY)

        async def every_version(name: str) -> list[ModelDescription]:
            async with limit:
                try:
                    return await self._management.describe_all(name)
                except ManagementError as exc:
                    if exc.status_code == 404:
                        return []
                    raise

        described = await asyncio.gather(*(every_version(name) for name in self._defaults))
        recent_first = read_usage_order(self._settings.paths.model_store)
        self._loaded.adopt([d for group in described for d in group], recent_first)
        await self._loaded.fit_budget()

    async def resolve(self, category: str) -> ServedModel:
        """The served model for `category` (name, any case, or model name); 404 naming the known ones.

        Only an empty cache is refreshed inline; a stale one is refreshed in the background, so a
        prediction never waits on the management API (which is slow while a version registers).
        """
        if not self._models:
            await self._refresh_or_keep_cache()
        elif time.monotonic() - self._refreshed_at > self._settings.gateway.models_refresh_s:
            self._refresh_in_background()
        found = self._lookup(category)
        if found is None and time.monotonic() - self._refreshed_at > _RETRY_UNKNOWN_S:
            await self._refresh_or_keep_cache()
            found = self._lookup(category)
        if found is None:
            known = sorted(model.category for model in self._models.values())
            shown = ", ".join(known[:20]) + (f" … ({len(known)} in all)" if len(known) > 20 else "")
            raise UnknownCategoryError(f"unknown category {category!r}; served categories: {shown or 'none'}")
        return found

    async def describe_all(self) -> list[ServedModel]:
        """Every model with its versions: the archived ones from the index, plus any registered from
        elsewhere (for GET /api/models). No call per model: the list comes from the caches."""
        await self.refresh()
        described: list[ServedModel] = []
        for name, default in sorted(self._models.items(), key=lambda item: item[1].category):
            archived = {entry.version: entry for entry in self._index.versions.get(name, [])}
            versions = []
            for version in sorted({*archived, default.version}, reverse=True):
                is_default = version == default.version
                loaded = self.is_loaded(name, version)
                versions.append(
                    ServedVersion(
                        version=version,
                        is_default=is_default,
                        ready_workers=default.ready_workers
                        if is_default and self._loaded is None
                        else int(loaded),
                        facts=self._index_facts(name, version)
                        or (default_facts(default) if is_default else UNKNOWN_FACTS),
                        loaded=loaded,
                    )
                )
            described.append(replace(default, model_name=name, versions=versions))
        return described

    def is_loaded(self, model_name: str, version: str) -> bool:
        """Whether the version holds a worker now (without a loaded set: whether the default had one)."""
        if self._loaded is not None:
            return self._loaded.is_loaded(model_name, version)
        default = self._models.get(model_name)
        return default is not None and default.version == version and default.ready_workers > 0

    def archived_versions(self, model_name: str) -> list[str]:
        """Versions of the model archived in the model store (oldest first)."""
        return [entry.version for entry in self._index.versions.get(model_name, [])]

    async def _describe_defaults(self, names: list[str]) -> None:
        limit = asyncio.Semaphore(_DESCRIBE_CONCURRENCY)

        async def describe(name: str) -> None:
            async with limit:
                described = await _describe_default(self._management, name)
            self._stale.discard(name)
            if described:
                self._defaults[name] = described[0]
            else:
                self._defaults.pop(name, None)

        await asyncio.gather(*(describe(name) for name in names))

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._refresh_or_log())

    async def _refresh_or_log(self) -> None:
        try:
            await self.refresh()
        except (ModelServerUnavailableError, ManagementError) as exc:
            log.warning("background model list refresh failed; using the cached list: %s", exc)

    async def _refresh_or_keep_cache(self) -> None:
        try:
            await self.refresh()
        except ModelServerUnavailableError:
            if not self._models:
                raise
            log.warning("model list refresh failed; using the cached list")

    def _lookup(self, category: str) -> ServedModel | None:
        for model in self._models.values():
            if model.category == category:
                return model
        # Case-insensitive names and the model name itself are accepted; a looser match (any string
        # with the same slug, e.g. "../beauty" or "Beauty\x00") would answer for names nobody sent.
        folded = category.casefold()
        for model in self._models.values():
            if model.category.casefold() == folded or model.model_name == folded:
                return model
        return None

    async def _served_model(self, description: ModelDescription) -> ServedModel:
        facts = await self._facts_for(description)
        return ServedModel(
            category=facts.category or description.name,
            model_name=description.name,
            version=description.version,
            window_size=facts.window_size,
            test_metrics=facts.test_metrics,
            ready_workers=description.ready_workers,
            max_horizon=facts.max_horizon,
            backtest=facts.backtest,
            fallback=facts.fallback,
            classical=facts.classical,
            calendar=facts.calendar,
            weekday_input=facts.weekday_input,
        )

    def _index_facts(self, name: str, version: str) -> VersionFacts | None:
        entry = self._index.get(name, version)
        return VersionFacts.from_info(entry.info) if entry is not None else None

    async def _facts_for(self, description: ModelDescription) -> VersionFacts:
        """The version's facts: from its archive in the index, else asked from its handler once (not
        cached while it cannot answer: no ready worker yet)."""
        key = (description.name, description.version)
        if key in self._facts:
            return self._facts[key]
        indexed = self._index_facts(*key)
        if indexed is not None:
            self._facts[key] = indexed
            return indexed
        if description.ready_workers == 0:
            return UNKNOWN_FACTS
        try:
            info = await self._management.served_info(description.name, description.version)
        except ManagementError as exc:
            log.warning("cannot describe model=%s version=%s: %s", description.name, description.version, exc)
            return UNKNOWN_FACTS
        self._facts[key] = VersionFacts.from_info(info)
        return self._facts[key]


def default_facts(model: ServedModel) -> VersionFacts:
    """The facts a served model carries of its default version."""
    return VersionFacts(
        category=model.category,
        window_size=model.window_size,
        test_metrics=model.test_metrics,
        max_horizon=model.max_horizon,
        backtest=model.backtest,
        fallback=model.fallback,
        classical=model.classical,
        calendar=model.calendar,
        weekday_input=model.weekday_input,
    )


async def _describe_default(management: ManagementApi, name: str) -> list[ModelDescription]:
    """The default version's description; empty when the model was unregistered meanwhile."""
    try:
        return await management.describe(name)
    except ManagementError as exc:
        if exc.status_code == 404:
            return []
        raise
