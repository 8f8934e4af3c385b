"""What TorchServe serves right now, per category: default version, window size N, test metrics.

Everything comes from TorchServe's management API, never from files: the category name, N and the
metrics are facts of a version, asked once from the version's own handler (the customized describe,
`core.contracts.served`) and cached per (model, version). The default version is refreshed every
`gateway.models_refresh_s`, right after a swap, and whenever an inference answer names another
version — so N always follows the served model, never a config guess.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from core.contracts.metrics import Backtest
from core.contracts.served import ServedVersionInfo
from core.settings import Settings
from gateway.errors import ModelServerUnavailableError, UnknownCategoryError
from serving.management_client import ManagementError, ModelDescription, ModelSummary

log = logging.getLogger(__name__)
_RETRY_UNKNOWN_S = 1.0


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

    @classmethod
    def from_info(cls, info: ServedVersionInfo) -> VersionFacts:
        metrics = {name: scores.model_dump() for name, scores in info.metrics.items()}
        return cls(
            category=info.category,
            window_size=info.window_size,
            test_metrics=metrics or None,
            max_horizon=info.max_horizon,
            backtest=info.backtest,
        )


UNKNOWN_FACTS = VersionFacts(category=None, window_size=None, test_metrics=None)


@dataclass(frozen=True)
class ServedVersion:
    version: str
    is_default: bool
    ready_workers: int
    facts: VersionFacts


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


class ModelRegistry:
    """Cached view of TorchServe's models; `resolve(category)` is a dict lookup on the hot path."""

    def __init__(self, settings: Settings, management: ManagementApi) -> None:
        self._settings = settings
        self._management = management
        self._models: dict[str, ServedModel] = {}
        self._facts: dict[tuple[str, str], VersionFacts] = {}
        self._refreshed_at = 0.0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    @property
    def models(self) -> dict[str, ServedModel]:
        """Last known models by TorchServe model name."""
        return dict(self._models)

    def invalidate(self) -> None:
        """Forget the default versions (after a swap); facts of versions stay cached."""
        self._refreshed_at = 0.0

    def note_answer(self, model_name: str, version: str) -> None:
        """An inference answer came from `version`; refresh soon if that is not the cached default."""
        cached = self._models.get(model_name)
        if cached is None or cached.version != version:
            log.info("served version changed model=%s version=%s", model_name, version)
            self.invalidate()

    async def refresh(self) -> dict[str, ServedModel]:
        """Ask TorchServe for every model's default version (raises ModelServerUnavailableError)."""
        requested_at = time.monotonic()
        async with self._lock:
            if self._refreshed_at > requested_at:  # another request refreshed while this one waited
                return dict(self._models)
            models: dict[str, ServedModel] = {}
            try:
                for summary in await self._management.list_models():
                    described = await _describe_default(self._management, summary.name)
                    if described:
                        models[summary.name] = await self._served_model(described[0])
            except ManagementError as exc:
                if exc.status_code < 500:
                    raise
                raise ModelServerUnavailableError(f"model server is unavailable: {exc.message}") from exc
            self._models = models
            self._refreshed_at = time.monotonic()
            return dict(models)

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
            known = ", ".join(sorted(model.category for model in self._models.values())) or "none"
            raise UnknownCategoryError(f"unknown category {category!r}; served categories: {known}")
        return found

    async def describe_all(self) -> list[ServedModel]:
        """Every model with all its registered versions (for GET /api/models)."""
        await self.refresh()
        described: list[ServedModel] = []
        for name, default in sorted(self._models.items(), key=lambda item: item[1].category):
            try:
                descriptions = await self._management.describe_all(name)
            except ManagementError as exc:
                if exc.status_code == 404:
                    continue  # unregistered since the refresh
                if exc.status_code < 500:
                    raise
                raise ModelServerUnavailableError(f"model server is unavailable: {exc.message}") from exc
            versions = [
                ServedVersion(
                    version=description.version,
                    is_default=description.version == default.version,
                    ready_workers=description.ready_workers,
                    facts=await self._facts_for(description),
                )
                for description in descriptions
            ]
            versions.sort(key=lambda item: item.version, reverse=True)
            described.append(replace(default, model_name=name, versions=versions))
        return described

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
        )

    async def _facts_for(self, description: ModelDescription) -> VersionFacts:
        """The version's facts, asked from its handler once; not cached while it cannot answer
        (no ready worker yet), so the next refresh asks again."""
        key = (description.name, description.version)
        if key in self._facts:
            return self._facts[key]
        if description.ready_workers == 0:
            return UNKNOWN_FACTS
        try:
            info = await self._management.served_info(description.name, description.version)
        except ManagementError as exc:
            log.warning("cannot describe model=%s version=%s: %s", description.name, description.version, exc)
            return UNKNOWN_FACTS
        self._facts[key] = VersionFacts.from_info(info)
        return self._facts[key]


async def _describe_default(management: ManagementApi, name: str) -> list[ModelDescription]:
    """The default version's description; empty when the model was unregistered meanwhile."""
    try:
        return await management.describe(name)
    except ManagementError as exc:
        if exc.status_code == 404:
            return []
        raise
