"""Category name → TorchServe model name.

TorchServe model names must be URL- and file-safe, while category names in real exports carry
spaces, punctuation and accents. Every part maps names through `category_slug` so the gateway,
the archiver and TorchServe always agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from core.errors import SalescastError

_NON_SLUG = re.compile(r"[^a-z0-9]+")


class SlugError(SalescastError, ValueError):
    """A category name has no usable slug, or two categories share one."""


def category_slug(category: str) -> str:
    """`Beauty` → `beauty`, `Home & Garden` → `home-garden`, `Café` → `cafe`."""
    ascii_name = unicodedata.normalize("NFKD", category).encode("ascii", "ignore").decode("ascii")
    slug = _NON_SLUG.sub("-", ascii_name.lower()).strip("-")
    if not slug:
        raise SlugError(f"category {category!r} has no letters or digits to name a model after")
    return slug


def slug_map(categories: Iterable[str]) -> dict[str, str]:
    """Map slug → category for `categories`, refusing two categories that collide on one slug."""
    mapping: dict[str, str] = {}
    for category in categories:
        slug = category_slug(category)
        if slug in mapping and mapping[slug] != category:
            raise SlugError(f"categories {mapping[slug]!r} and {category!r} both map to model name {slug!r}")
        mapping[slug] = category
    return mapping
