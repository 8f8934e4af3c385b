"""Category name → TorchServe model name.

TorchServe model names must be URL- and file-safe, while category names in real exports carry
spaces, punctuation and accents. Every part maps names through `category_slug` so the gateway,
the archiver and TorchServe always agree.
"""

from __future__ import annotations

import re
import unicodedata

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
