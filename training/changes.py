"""Which categories `train --only-changed` trains: the new ones and those whose data changed since
their latest version.

Every version records the fingerprint of its category's own daily series as training saw it
(`VersionManifest.series_sha256`); the current data's series is fingerprinted the same way and the
two are compared. A category counts as changed when it has no version, its latest version records no
fingerprint (trained before fingerprints were kept) or a window size the config no longer has, or
its series differs; other categories' data, other settings and the shared networks do not count.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.artifacts import latest_version, version_dir
from core.contracts.files import ContractError
from core.contracts.manifest import read_manifest
from core.settings import Settings

logger = logging.getLogger(__name__)


def series_sha256(series: pd.Series) -> str:
    """SHA-256 of a daily series: its days as ISO dates, then its values as little-endian float64."""
    digest = hashlib.sha256()
    days = pd.DatetimeIndex(series.index).strftime("%Y-%m-%d")
    digest.update("\n".join(days).encode())
    digest.update(np.ascontiguousarray(series.to_numpy(dtype="<f8")).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class CategoryChange:
    """One category's standing: its latest version (None: never trained) and why it trains (None:
    its data is the data its latest version learned from)."""

    category: str
    latest: str | None
    reason: str | None

    @property
    def changed(self) -> bool:
        return self.reason is not None


def category_changes(
    categories: Sequence[str], sales: Mapping[str, pd.Series], settings: Settings
) -> list[CategoryChange]:
    """Each of `categories` against its latest version, in order; each decision is logged."""
    changes = [_change(category, sales, settings) for category in categories]
    for change in changes:
        logger.info(
            "only-changed category=%s latest=%s decision=%s",
            change.category,
            change.latest or "-",
            change.reason or "unchanged",
        )
    return changes


def _change(category: str, sales: Mapping[str, pd.Series], settings: Settings) -> CategoryChange:
    latest = latest_version(settings, category)
    if latest is None:
        return CategoryChange(category, None, "new: no trained version")
    if category not in sales:
        return CategoryChange(category, latest, "not in the data")  # training reports the error
    try:
        manifest = read_manifest(version_dir(settings, category, latest))
    except ContractError as exc:
        return CategoryChange(category, latest, f"its latest version's manifest cannot be read ({exc})")
    if manifest.series_sha256 is None:
        return CategoryChange(category, latest, f"version {latest} records no data fingerprint")
    if manifest.window_size != settings.window.size:
        return CategoryChange(
            category,
            latest,
            f"window size changed (version {latest}: {manifest.window_size}, config: {settings.window.size})",
        )
    if manifest.series_sha256 != series_sha256(sales[category]):
        return CategoryChange(category, latest, f"its data changed since version {latest}")
    return CategoryChange(category, latest, None)
