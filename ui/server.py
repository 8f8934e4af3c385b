"""`salescast serve ui`: launch the Gradio app on `ui.host:ui.port` and block until stopped.

Launched offline-safe: no share link, no analytics or version check, no server-side rendering
(no Node), no MCP endpoint and no run history; the page's fonts ship with Gradio.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from core.api_key import with_api_key_from_file
from core.settings import Settings
from ui.app import CSS, build_app

_log = logging.getLogger(__name__)


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of `Blocks.launch` for `settings.ui` (shared by `run` and the tests)."""
    return {
        "server_name": settings.ui.host,
        "server_port": settings.ui.port,
        "share": False,
        "show_error": False,
        "ssr_mode": False,
        "mcp_server": False,
        "pwa": False,
        "run_history": False,
        "enable_monitoring": False,
        "quiet": True,
        "css": CSS,
        "footer_links": ["api"],
    }


def start(settings: Settings) -> Any:
    """Build and launch the app without blocking; the caller must `close()` the returned Blocks."""
    app = build_app(settings)
    app.queue(default_concurrency_limit=settings.ui.concurrency_limit)
    app.launch(prevent_thread_lock=True, **launch_options(settings))
    _log.info(
        "ui listening on http://%s:%d (gateway %s)",
        settings.ui.host,
        settings.ui.port,
        settings.ui.gateway_url,
    )
    return app


def run(settings: Settings) -> int:
    """Serve the UI in the foreground; Ctrl-C or SIGTERM stops it cleanly (exit code 0)."""

    def _stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    app = start(with_api_key_from_file(settings, create=False))
    try:
        app.block_thread()  # returns after Ctrl-C (or SIGTERM), having closed the server
    finally:
        app.close()
        _log.info("ui stopped")
    return 0
