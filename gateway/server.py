"""`salescast serve gateway`: the gateway under uvicorn on `gateway.host:gateway.port`."""

from __future__ import annotations

import logging

import uvicorn

from core.settings import Settings
from gateway.app import create_app

log = logging.getLogger(__name__)


def run(settings: Settings) -> int:
    """Serve until Ctrl-C / SIGTERM; returns the exit status."""
    app = create_app(settings)
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
