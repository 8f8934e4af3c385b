"""The inference client over several TorchServe shards (`torchserve.shard_map`).

Each shard gets its own keep-alive pool; a prediction goes to the shard of its model, so the
predictor, the bulk forecasts and the fast path stay unaware of shards. A shard that is down turns
only its categories into 503s, with a message naming the shard.
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.settings import Settings
from core.shard_map import ShardMap, shard_map_of
from gateway.errors import ModelServerUnavailableError
from gateway.torchserve_client import InferenceClient, ModelNotServedError, NoWorkerError


class ShardedInferenceClient(InferenceClient):
    """`InferenceClient` whose predictions go to the shard of the model they name."""

    def __init__(self, shard_map: ShardMap, *, timeout_s: float, max_connections: int = 100) -> None:
        super().__init__(shard_map.shards[0].inference_url, timeout_s=timeout_s, max_connections=1)
        self.shard_map = shard_map
        self._shards = {
            shard.name: InferenceClient(
                shard.inference_url, timeout_s=timeout_s, max_connections=max_connections
            )
            for shard in shard_map.shards
        }

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self._shards.values()))
        await super().close()

    async def ping(self) -> str:
        """ "Healthy" when every shard is; otherwise the first unreachable shard's error, named."""
        names = list(self._shards)
        answers = await asyncio.gather(*(self._shards[name].ping() for name in names), return_exceptions=True)
        down = [
            f"shard {name}: {answer.message}"
            for name, answer in zip(names, answers, strict=True)
            if isinstance(answer, ModelServerUnavailableError)
        ]
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, ModelServerUnavailableError):
                raise answer
        if down:
            raise ModelServerUnavailableError(
                f"{len(down)} of {len(names)} model server shards unavailable: " + "; ".join(down)
            )
        unhealthy = sorted({str(answer) for answer in answers if answer != "Healthy"})
        return unhealthy[0] if unhealthy else "Healthy"

    async def _post(self, model_name: str, payload: dict[str, Any]) -> bytes:
        shard = self.shard_map.shard_for(model_name)
        try:
            return await self._shards[shard.name]._post(model_name, payload)
        except (NoWorkerError, ModelNotServedError):
            raise  # the shard answered: the gateway's own retry and 404 handling apply
        except ModelServerUnavailableError as exc:
            raise ModelServerUnavailableError(
                f"shard {shard.name} serving {model_name} is unavailable: {exc.message}", headers=exc.headers
            ) from exc


def inference_client(settings: Settings) -> InferenceClient:
    """The inference API of every category: TorchServe's own, or routed over the shard map."""
    gateway = settings.gateway
    if settings.torchserve.shard_map is None:
        return InferenceClient(
            settings.torchserve.inference_base_url,
            timeout_s=gateway.predict_timeout_s,
            max_connections=gateway.max_connections,
        )
    return ShardedInferenceClient(
        shard_map_of(settings), timeout_s=gateway.predict_timeout_s, max_connections=gateway.max_connections
    )
