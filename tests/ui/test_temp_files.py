"""`ui.temp_files`: every download or plot gets its own folder, and a day-old one is gone at the next."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

from ui import downloads
from ui.temp_files import MAX_AGE_S, TempFolder


def _age(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def test_each_file_gets_a_fresh_empty_folder(tmp_path: Path) -> None:
    folders = TempFolder("downloads", root=tmp_path)
    first, second = folders.new(), folders.new()
    assert first != second
    assert first.parent == second.parent == tmp_path / "downloads"
    assert list(first.iterdir()) == list(second.iterdir()) == []


def test_folders_older_than_the_limit_go_at_the_next_write_and_younger_ones_stay(tmp_path: Path) -> None:
    folders = TempFolder("downloads", max_age_s=60.0, root=tmp_path)
    old, young = folders.new(), folders.new()
    (old / "forecast.csv").write_text("a,b\n")
    (young / "forecast.csv").write_text("a,b\n")
    _age(old, 61.0)
    _age(young, 59.0)
    newest = folders.new()
    assert not old.exists()
    assert young.exists() and (young / "forecast.csv").exists()
    assert newest.exists()


def test_a_missing_root_is_nothing_to_prune(tmp_path: Path) -> None:
    TempFolder("never-written", root=tmp_path).prune()
    assert not (tmp_path / "never-written").exists()


def test_downloads_of_a_running_ui_do_not_pile_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(downloads, "_FOLDER", TempFolder("downloads", root=tmp_path))
    first = Path(downloads.write_csv(pd.DataFrame({"day": [1]}), "history-Beauty"))
    assert first.read_text().startswith("day")
    _age(first.parent, MAX_AGE_S + 1)
    second = Path(downloads.write_csv(pd.DataFrame({"day": [2]}), "history-Beauty"))
    assert not first.exists() and second.exists()
    assert [folder.name for folder in (tmp_path / "downloads").iterdir()] == [second.parent.name]
