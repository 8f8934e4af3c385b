"""One small SQLite file shared by threads of a process and by several processes.

Autocommit (each statement its own transaction unless the caller opens one), write-ahead logging
(readers never wait for the one writer), usable from worker threads (callers serialize access with
their own lock).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path, schema: str) -> sqlite3.Connection:
    """Connect to `path` (its folder created) in WAL mode and make sure `schema` exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    database = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.executescript(schema)
    return database
