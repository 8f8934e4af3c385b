"""Which categories `salescast up` / `train-missing` trains, archives or skips (shared session models)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from salescast import local_stack as stack
from serving.archive import ArchiveInfo

CATEGORIES = ["Beauty", "Clothing", "Electronics"]


def test_archived_categories_are_skipped(
    test_settings: Settings, model_store_archives: dict[str, ArchiveInfo], capsys: pytest.CaptureFixture[str]
) -> None:
    plan = stack.plan_models(test_settings)
    assert plan.ready == CATEGORIES and plan.train == [] and plan.archive == []
    assert plan.slugs == ["beauty", "clothing", "electronics"]
    assert stack.train_missing(test_settings, None) == 0
    out = capsys.readouterr().out
    assert "skipping training: Beauty, Clothing, Electronics" in out
    assert "0 trained or archived, 3 already archived" in out


def test_trained_but_unarchived_categories_are_archived_not_retrained(
    test_settings: Settings, model_store_archives: dict[str, ArchiveInfo], tmp_path: Path
) -> None:
    empty_store = test_settings.with_overrides({"paths": {"model_store": str(tmp_path / "model_store")}})
    plan = stack.plan_models(empty_store)
    assert plan.archive == CATEGORIES and plan.train == []


def test_untrained_categories_are_trained(test_settings: Settings, tmp_path: Path) -> None:
    fresh = test_settings.with_overrides(
        {"paths": {"model_store": str(tmp_path / "ms"), "artifacts": str(tmp_path / "artifacts")}}
    )
    assert stack.plan_models(fresh).train == CATEGORIES


def test_a_listed_category_subset_is_respected(test_settings: Settings, tmp_path: Path) -> None:
    subset = test_settings.with_overrides(
        {"data": {"categories": ["Clothing"]}, "paths": {"model_store": str(tmp_path / "ms")}}
    )
    plan = stack.plan_models(subset)
    assert plan.slugs == ["clothing"]
    assert plan.ready == [] and len(plan.archive + plan.train) == 1
