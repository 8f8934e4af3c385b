"""Where a trained version of a category lives, and how versions are named and ordered.

Layout: `<paths.artifacts>/<slug>/<version>/{model.pt, norm_stats.json, metrics.json, loss.png,
forecast.png}`. A version is a UTC timestamp `YYYYMMDD.HHMMSS`: sortable as text, and a plain
number, which every TorchServe release accepts as a model version. Training writes into a
hidden `.tmp-*` folder and renames it into place, so a version folder is always complete.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from core.settings import Settings
from core.slugs import category_slug

MODEL_FILE = "model.pt"
LOSS_PLOT_FILE = "loss.png"
FORECAST_PLOT_FILE = "forecast.png"
VERSION_FORMAT = "%Y%m%d.%H%M%S"
_VERSION_RE = re.compile(r"^\d{8}\.\d{6}$")


def new_version(now: datetime | None = None) -> str:
    """A version name for a run starting `now` (UTC)."""
    return (now or datetime.now(timezone.utc)).strftime(VERSION_FORMAT)


def is_version(name: str) -> bool:
    """True for names produced by `new_version`."""
    return bool(_VERSION_RE.match(name))


def category_dir(settings: Settings, category: str) -> Path:
    """Folder holding every version of `category`."""
    return settings.paths.artifacts / category_slug(category)


def version_dir(settings: Settings, category: str, version: str) -> Path:
    """Folder of one complete version of `category`."""
    return category_dir(settings, category) / version


def list_versions(settings: Settings, category: str) -> list[str]:
    """Complete versions of `category`, oldest first (unfinished `.tmp-*` folders are skipped)."""
    folder = category_dir(settings, category)
    if not folder.is_dir():
        return []
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_dir() and is_version(entry.name) and (entry / MODEL_FILE).is_file()
    )


def latest_version(settings: Settings, category: str) -> str | None:
    """Newest complete version of `category`, or None when it was never trained."""
    versions = list_versions(settings, category)
    return versions[-1] if versions else None
