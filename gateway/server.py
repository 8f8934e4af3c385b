"""`salescast serve gateway`: the gateway under uvicorn on `gateway.host:gateway.port`."""

from __future__ import annotations

import gc
import logging

import uvicorn

from core.api_key import with_api_key_from_file
from core.net import is_loopback
from core.settings import Settings
from core.shard_map import shard_map_of
from gateway.app import create_app
from gateway.redis_connection import check_reachable
from serving.bucket_sync import BucketSync

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Serve until Ctrl-C / SIGTERM; returns the exit status."""
    settings = with_api_key_from_file(settings, create=True)
    if not settings.gateway.api_key and not is_loopback(settings.gateway.host):
        log.warning(
            "no API key and listening on %s: train, deploy and model-admin writes answer 403 until "
            "SALESCAST_API_KEY (gateway.api_key) is set",
            settings.gateway.host,
        )
    # With storage.uri the bucket must answer now: a missing bucket or a refused key is a clear
    # error at start (ObjectStoreError names bucket and endpoint), not a failure at the first deploy.
    BucketSync(settings).check()
    check_reachable(settings.redis)  # redis.url set but not answering: a clear error, not a lone replica
    shard_map_of(settings)  # a shard map that does not parse stops the start with what is wrong in it
    app = create_app(settings)
    # Everything loaded so far (FastAPI, pydantic, pandas, the app) lives as long as the process:
    # keep it out of the cyclic collector, which otherwise walked it again and again while a batch
    # of 1000 items allocated its ~20 000 containers (40 % of the gateway's CPU on such a batch).
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    log.info("gateway listening on http://%s:%d", settings.gateway.host, settings.gateway.port)
    uvicorn.Server(config).run()
    return 0
