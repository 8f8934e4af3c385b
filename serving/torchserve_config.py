"""Render TorchServe's `config.properties` for one instance from the settings.

The template (`configs/torchserve/config.properties`) documents every key; this module only fills
in ports, addresses and paths, so a dev stack and a test run differ only in their settings.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from core.settings import Settings

TEMPLATE = Path(str(resources.files("configs").joinpath("torchserve", "config.properties")))


def render_config(settings: Settings, template: Path = TEMPLATE) -> str:
    """The config text for `settings` (model store as an absolute path)."""
    torchserve = settings.torchserve
    values = {
        "host": torchserve.host,
        "inference_port": torchserve.inference_port,
        "management_port": torchserve.management_port,
        "metrics_port": torchserve.metrics_port,
        "model_store": settings.paths.model_store.resolve(),
        "job_queue_size": torchserve.job_queue_size,
        "default_response_timeout": torchserve.default_response_timeout_s,
        "initial_worker_port": torchserve.initial_worker_port,
        "workers": settings.archive.workers,
        # .properties treats a backslash as an escape: double the regex's own
        "allowed_urls": allowed_urls(settings.paths.model_store).replace("\\", "\\\\"),
    }
    return Template(template.read_text(encoding="utf-8")).substitute(values)


def allowed_urls(model_store: Path) -> str:
    """TorchServe's `allowed_urls`: a regex admitting only `file://` URLs inside the model store."""
    return f"file://{re.escape(str(model_store.resolve()))}/[^/]+\\.mar"


def write_config(settings: Settings, path: Path) -> Path:
    """Write the rendered config to `path` (the instance's working dir) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_config(settings), encoding="utf-8")
    return path
