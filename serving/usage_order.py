"""Which categories were used most recently, kept beside the archives (`usage.json` in the model store).

The gateway's loaded set (`gateway.loaded_models`) writes it when what is loaded changes; a start
of TorchServe under a memory budget reads it to load the hot categories first. It is a hint: a
missing or unreadable file only means alphabetical order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.atomic import write_json_atomic

logger = logging.getLogger(__name__)

USAGE_FILE = "usage.json"


def read_usage_order(store: Path) -> list[str]:
    """Model names, most recently used first ([] when none was recorded)."""
    path = store / USAGE_FILE
    try:
        names = json.loads(path.read_text(encoding="utf-8")).get("recent_first", [])
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return []
    return [name for name in names if isinstance(name, str)]


def write_usage_order(store: Path, recent_first: Sequence[str]) -> None:
    """Record the order atomically (readers never see half a file)."""
    write_json_atomic(store / USAGE_FILE, {"recent_first": list(recent_first)})


def hot_first(names: Iterable[str], recent_first: Sequence[str]) -> list[str]:
    """`names` with the recently used ones first (in that order), the rest alphabetically."""
    rank = {name: index for index, name in enumerate(recent_first)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))
