"""Load and unload a registered version: scale its workers up (and wait until one is ready) or to 0.

Registering an archive starts no worker (its model-config says 0, `serving.archive.model_config`);
a version is *loaded* when it has a ready worker. Scaling asks TorchServe without its `synchronous`
flag and polls the describe API: a synchronous call blocks one of TorchServe's Netty threads until
the worker has started, and the inference connections served by that thread stall with it.
"""

from __future__ import annotations

import asyncio
import time

from core.errors import SalescastError
from serving.management_client import ManagementClient

READY_POLL_S = 0.05  # how often a load asks whether the worker is ready (a cold request waits on it)


class WorkerLoadError(SalescastError):
    """A version's worker did not become ready (it died while loading, or took too long)."""


async def load_workers(
    client: ManagementClient, model: str, version: str, workers: int, timeout_s: float
) -> None:
    """Scale `model` `version` to `workers` and return once one of them is ready."""
    await client.scale_workers(model, version, min_workers=workers, synchronous=False)
    await wait_for_ready_worker(client, model, version, timeout_s)


async def unload_workers(client: ManagementClient, model: str, version: str) -> None:
    """Stop the version's workers and return once they are gone (~10 ms: no Netty thread waits
    long); it stays registered, so a later load needs no archive work."""
    await client.scale_workers(model, version, min_workers=0, synchronous=True)


async def wait_for_ready_worker(client: ManagementClient, model: str, version: str, timeout_s: float) -> None:
    """Return once the version has a ready worker; a worker restarted under a new pid has died."""
    deadline = time.monotonic() + timeout_s
    pids: dict[str, int] = {}
    while True:
        description = (await client.describe(model, version))[0]
        if description.ready_workers > 0:
            return
        for worker in description.workers:
            if worker.pid > 0 and pids.setdefault(worker.id, worker.pid) != worker.pid:
                raise WorkerLoadError(
                    f"{model} version {version}: its worker died while loading the model "
                    f"(worker {worker.id}); see TorchServe's logs/model_log.log"
                )
        if time.monotonic() > deadline:
            raise WorkerLoadError(f"{model} version {version}: no worker was ready after {timeout_s:.0f} s")
        await asyncio.sleep(READY_POLL_S)
