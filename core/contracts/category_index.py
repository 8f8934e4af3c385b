"""The category index, `categories.json` in the model store: TorchServe model name (slug) → category.

Archive file names carry only the slug; the index gives listings back the category's real name
(`home-garden` → `Home & Garden`) and refuses two categories that share a slug. Several archivers may
write at once, so updates are serialized with a lock file and written atomically.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import RootModel, ValidationError

from core.atomic import write_json_atomic
from core.contracts.files import ContractError, describe_errors
from core.file_lock import exclusive_lock
from core.slugs import SlugError

CATEGORY_INDEX_FILE = "categories.json"


class _Index(RootModel[dict[str, str]]):
    pass


def read_category_index(store: Path) -> dict[str, str]:
    """slug → category recorded in the model store (empty when nothing was archived yet)."""
    path = store / CATEGORY_INDEX_FILE
    if not path.is_file():
        return {}
    try:
        return _Index.model_validate_json(path.read_text(encoding="utf-8")).root
    except ValidationError as exc:
        raise ContractError(
            f"{path}: not a valid category index ({describe_errors(exc)}); delete it and archive again"
        ) from None


def record_category(store: Path, slug: str, category: str) -> None:
    """Add slug → category (atomically, under a lock), refusing two categories on one slug."""
    with exclusive_lock(store / f".{CATEGORY_INDEX_FILE}.lock"):
        mapping = read_category_index(store)
        if mapping.get(slug, category) != category:
            raise SlugError(f"categories {mapping[slug]!r} and {category!r} both map to model name {slug!r}")
        if mapping.get(slug) == category:
            return
        mapping[slug] = category
        write_json_atomic(store / CATEGORY_INDEX_FILE, dict(sorted(mapping.items())))
