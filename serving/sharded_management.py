"""One management API over several TorchServe shards, routed by the shard map.

Every per-model call of `ManagementClient` names its model in the path (`/models/<model>/…`) or,
for a registration, in the archive's file name, so routing is one override of the request: the
gateway's registry, loaded set, reconciler and a training job's deploy keep talking to "the"
management API. The model list is the shards' lists merged; a shard that cannot be reached keeps
its last answer, so its categories stay known and their calls fail with a 503 naming the shard,
while every other shard's categories keep working.

A shard of several pods (Kubernetes: `prod` runs two per shard) must change alike on each: a call
that changes something (register, set default, scale, unregister) goes to every pod — listed in the
map's `pods`, or the addresses its headless Service `pods_service` resolves to — while reads go to
the shard's Service.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from core.settings import Settings
from core.shard_map import Shard, ShardMap, shard_map_of
from serving.management_client import ManagementClient, ManagementError, ModelSummary

log = logging.getLogger(__name__)

UNAVAILABLE = 503


class ShardedManagementClient(ManagementClient):
    """`ManagementClient` whose calls go to the shard of the model they name."""

    def __init__(self, shard_map: ShardMap, *, timeout_s: float = 120.0) -> None:
        super().__init__(shard_map.shards[0].management_url, timeout_s=timeout_s)
        self.shard_map = shard_map
        self._shards = {
            shard.name: ManagementClient(shard.management_url, timeout_s=timeout_s)
            for shard in shard_map.shards
        }
        self._last_lists: dict[str, list[ModelSummary]] = {}
        self._timeout_s = timeout_s
        self._pods: dict[str, ManagementClient] = {}  # management URL → client, for writes to each pod

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in [*self._shards.values(), *self._pods.values()]))
        await super().aclose()

    def shard_of(self, model: str) -> Shard:
        return self.shard_map.shard_for(model)

    async def list_models(self) -> list[ModelSummary]:
        """Every shard's models; an unreachable shard answers with its last list (raises only when
        no shard answers)."""
        names = list(self._shards)
        answers = await asyncio.gather(
            *(self._shards[name].list_models() for name in names), return_exceptions=True
        )
        merged: list[ModelSummary] = []
        failures: list[str] = []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, ManagementError) and answer.status_code >= 500:
                failures.append(f"shard {name}: {answer.message}")
                merged.extend(self._last_lists.get(name, []))
                continue
            if isinstance(answer, BaseException):
                raise answer
            self._last_lists[name] = answer
            merged.extend(summary for summary in answer if self.shard_of(summary.name).name == name)
        if len(failures) == len(names):
            raise ManagementError(UNAVAILABLE, "; ".join(failures))
        for failure in failures:
            log.warning("model list of an unreachable shard kept from its last answer: %s", failure)
        return merged

    async def _request(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        model = _model_of(path, params)
        if model is None:
            raise ManagementError(
                400, f"{method} {path} names no model, so no shard can be chosen for it (shard map)"
            )
        shard = self.shard_of(model)
        targets = [self._shards[shard.name]] if method == "GET" else await self._every_pod(shard)
        answers = await asyncio.gather(
            *(client._request(method, path, params) for client in targets), return_exceptions=True
        )
        for client, answer in zip(targets, answers, strict=True):
            if isinstance(answer, ManagementError):
                where = f"shard {shard.name}" + (f" pod {client.base_url}" if len(targets) > 1 else "")
                if answer.status_code == UNAVAILABLE:
                    raise ManagementError(
                        UNAVAILABLE, f"{where} serving {model} is unavailable: {answer.message}"
                    ) from answer
                if len(targets) > 1:
                    raise ManagementError(answer.status_code, f"{where}: {answer.message}") from answer
                raise answer
            if isinstance(answer, BaseException):
                raise answer
        return answers[0]

    async def _every_pod(self, shard: Shard) -> list[ManagementClient]:
        """The management API of each pod of `shard`: its `pods`, else the addresses `pods_service`
        resolves to (a headless Service lists every ready pod), else the shard's Service alone."""
        urls = list(shard.pods)
        if not urls and shard.pods_service:
            urls = await _resolve_pods(shard.pods_service, shard.management_url)
        if not urls:
            return [self._shards[shard.name]]
        for url in urls:
            if url not in self._pods:
                self._pods[url] = ManagementClient(url, timeout_s=self._timeout_s)
        return [self._pods[url] for url in urls]


async def _resolve_pods(service: str, management_url: str) -> list[str]:
    """`http://<pod address>:<management port>` for every address of the headless Service (none
    when it does not resolve: outside the cluster the shard's Service stands in)."""
    url = urlsplit(management_url)
    port = url.port or 80
    try:
        found = await asyncio.get_running_loop().getaddrinfo(service, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("pods of %s not resolved (%s); writing through the shard's Service", service, exc)
        return []
    addresses = sorted({str(item[4][0]) for item in found})
    return [f"{url.scheme}://{f'[{a}]' if ':' in a else a}:{port}" for a in addresses]


def _model_of(path: str, params: Mapping[str, Any] | None) -> str | None:
    """The model a management call is about: `/models/<model>/…`, or a registration's archive
    `<model>-<version>.mar` (see `serving.archive.archive_file_name`)."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "models":
        return parts[1]
    url = str((params or {}).get("url", ""))
    stem = url.rsplit("/", 1)[-1].removesuffix(".mar")
    model, dash, _version = stem.rpartition("-")
    return model if dash and model else None


def management_client(settings: Settings, *, timeout_s: float) -> ManagementClient:
    """The management API of every category: TorchServe's own, or routed over the shard map."""
    if settings.torchserve.shard_map is None:
        return ManagementClient(settings.torchserve.management_base_url, timeout_s=timeout_s)
    return ShardedManagementClient(shard_map_of(settings), timeout_s=timeout_s)
