"""Folders for the files the page hands to Gradio (CSV downloads, training plots), kept for a day.

Each file gets a fresh sub-folder (two users downloading the same name never collide), and every new
one first removes the sub-folders older than `MAX_AGE_S`: a UI left running for months would
otherwise fill the disk (or a container's writable layer) with every download it ever made. Gradio
copies what a handler returns into its own cache, which `ui.app` empties on the same schedule
(`gr.Blocks(delete_cache=...)`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

MAX_AGE_S = 24 * 3600.0
"""A file older than this is gone at the next write: long enough for any page still showing it."""
CLEAN_EVERY_S = 3600.0
"""How often Gradio's own cache is swept of files older than `MAX_AGE_S`."""


class TempFolder:
    """`<temp dir>/<name>`, whose sub-folders live `max_age_s` seconds past their last change."""

    def __init__(self, name: str, max_age_s: float = MAX_AGE_S, root: Path | None = None) -> None:
        self.path = (root or Path(tempfile.gettempdir())) / name
        self.max_age_s = max_age_s

    def new(self) -> Path:
        """A new, empty sub-folder, after removing those older than `max_age_s`."""
        self.prune()
        folder = self.path / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        return folder

    def prune(self) -> None:
        """Remove the sub-folders unchanged for longer than `max_age_s` (others may be removing them
        at the same time: a folder already gone is fine)."""
        cutoff = time.time() - self.max_age_s
        try:
            folders = [entry for entry in self.path.iterdir() if entry.is_dir()]
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue
