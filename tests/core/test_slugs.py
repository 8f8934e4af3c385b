"""Category names map to safe, stable TorchServe model names."""

from __future__ import annotations

import pytest

from core.slugs import SlugError, category_slug


@pytest.mark.parametrize(
    ("category", "slug"),
    [("Beauty", "beauty"), ("Home & Garden", "home-garden"), ("  Café / Bar ", "cafe-bar"), ("A1", "a1")],
)
def test_slug(category: str, slug: str) -> None:
    assert category_slug(category) == slug


def test_unsluggable_name_is_rejected() -> None:
    with pytest.raises(SlugError, match="no letters or digits"):
        category_slug("???")
