"""A typed async client for TorchServe's management API (list, describe, register, default, scale, delete).

Used by the gateway, the CLI's `--deploy` and the process manager. Any non-2xx answer raises
`ManagementError` carrying TorchServe's status code and its own message, so callers can show it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from core.contracts.files import ContractError
from core.contracts.served import ServedVersionInfo, parse_served_info
from core.errors import SalescastError

logger = logging.getLogger(__name__)

READY = "READY"


class ManagementError(SalescastError):
    """TorchServe refused a management call; `message` is TorchServe's own text."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"TorchServe management API answered {status_code}: {message}")
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class ModelSummary:
    """One entry of `GET /models`."""

    name: str
    url: str


@dataclass(frozen=True)
class WorkerInfo:
    """One backend worker of a model version."""

    id: str
    status: str
    pid: int

    @property
    def ready(self) -> bool:
        return self.status == READY


@dataclass(frozen=True)
class ModelDescription:
    """`GET /models/<name>/<version>`: the fields salescast relies on, plus the raw answer."""

    name: str
    version: str
    url: str
    min_workers: int
    max_workers: int
    batch_size: int
    max_batch_delay_ms: int
    workers: tuple[WorkerInfo, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def ready_workers(self) -> int:
        return sum(worker.ready for worker in self.workers)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDescription:
        return cls(
            name=str(data["modelName"]),
            version=str(data.get("modelVersion", "")),
            url=str(data.get("modelUrl", "")),
            min_workers=int(data.get("minWorkers", 0)),
            max_workers=int(data.get("maxWorkers", 0)),
            batch_size=int(data.get("batchSize", 1)),
            max_batch_delay_ms=int(data.get("maxBatchDelay", 0)),
            workers=tuple(
                WorkerInfo(
                    id=str(w.get("id", "")), status=str(w.get("status", "")), pid=int(w.get("pid", -1))
                )
                for w in data.get("workers", [])
            ),
            raw=data,
        )


class ManagementClient:
    """Async client of one TorchServe management API; use as `async with ManagementClient(url) as c:`."""

    def __init__(self, base_url: str, *, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    async def __aenter__(self) -> ManagementClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_models(self) -> list[ModelSummary]:
        """Every registered model name (TorchServe pages the list; all pages are read)."""
        models: list[ModelSummary] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            data = await self._request("GET", "/models", params=params)
            models.extend(
                ModelSummary(str(m["modelName"]), str(m.get("modelUrl", ""))) for m in data["models"]
            )
            token = data.get("nextPageToken")
            if not token:
                return models
            params = {"limit": 100, "next_page_token": token}

    async def describe(self, model: str, version: str | None = None) -> list[ModelDescription]:
        """One version (or the default version when `version` is None) of `model`."""
        path = f"/models/{model}" if version is None else f"/models/{model}/{version}"
        return [ModelDescription.from_json(item) for item in await self._request("GET", path)]

    async def served_info(self, model: str, version: str) -> ServedVersionInfo:
        """What the version's handler says about itself (category, window size, test metrics).

        TorchServe forwards `?customized=true` to a worker of that version (per version only: `/all`
        ignores it), so the version must have a ready worker. A handler that gives no valid answer
        is a `ManagementError` 502 naming the model.
        """
        data = await self._request("GET", f"/models/{model}/{version}", params={"customized": "true"})
        where = f"{self.base_url}/models/{model}/{version}?customized=true"
        entry = data[0] if isinstance(data, list) and data else {}
        raw = entry.get("customizedMetadata") if isinstance(entry, dict) else None
        if raw is None:
            raise ManagementError(502, f"{where} answered without customizedMetadata")
        try:
            return parse_served_info(raw, where)
        except ContractError as exc:
            raise ManagementError(502, str(exc)) from exc

    async def describe_all(self, model: str) -> list[ModelDescription]:
        """Every registered version of `model`."""
        return [
            ModelDescription.from_json(item) for item in await self._request("GET", f"/models/{model}/all")
        ]

    async def default_version(self, model: str) -> str:
        """The version `/predictions/<model>` currently routes to."""
        return (await self.describe(model))[0].version

    async def register(
        self,
        archive_file_name: str,
        *,
        initial_workers: int,
        synchronous: bool = True,
        response_timeout_s: int | None = None,
    ) -> str:
        """Register an archive of the model store as a new model version; returns TorchServe's status text.

        With `synchronous` TorchServe answers once the workers have started (or failed to).
        """
        params: dict[str, Any] = {
            "url": archive_file_name,
            "initial_workers": initial_workers,
            "synchronous": str(synchronous).lower(),
        }
        if response_timeout_s is not None:
            params["response_timeout"] = response_timeout_s
        data = await self._request("POST", "/models", params=params)
        return str(data.get("status", ""))

    async def set_default(self, model: str, version: str) -> str:
        """Route `/predictions/<model>` to `version`."""
        data = await self._request("PUT", f"/models/{model}/{version}/set-default")
        return str(data.get("status", ""))

    async def scale_workers(
        self,
        model: str,
        version: str | None = None,
        *,
        min_workers: int,
        max_workers: int | None = None,
        synchronous: bool = True,
    ) -> str:
        """Set the worker count of one version (default version when `version` is None)."""
        path = f"/models/{model}" if version is None else f"/models/{model}/{version}"
        params = {
            "min_worker": min_workers,
            "max_worker": max_workers if max_workers is not None else min_workers,
            "synchronous": str(synchronous).lower(),
        }
        data = await self._request("PUT", path, params=params)
        return str(data.get("status", ""))

    async def unregister(self, model: str, version: str) -> str:
        """Remove one version; its workers stop and requests in flight on them fail, so drain first."""
        data = await self._request("DELETE", f"/models/{model}/{version}")
        return str(data.get("status", ""))

    async def _request(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            response = await self._http.request(method, path, params=params)
        except httpx.TransportError as exc:
            raise ManagementError(503, f"cannot reach {self.base_url}{path}: {exc!r}") from exc
        if response.status_code >= 300:
            raise ManagementError(response.status_code, _error_message(response))
        return response.json()


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return response.text.strip()
