"""Version naming: every training of a category gets a fresh, later version, claimed atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.artifacts import MODEL_FILE, is_version, version_dir
from tests.conftest import make_test_settings
from training.errors import TrainingError
from training.version_record import claim_version


def test_back_to_back_claims_get_increasing_versions(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    first, first_staging = claim_version(settings, "Toys")
    second, second_staging = claim_version(settings, "Toys")
    assert is_version(first) and is_version(second)
    assert second > first
    assert first_staging.name == f".tmp-{first}" and first_staging.is_dir()
    assert second_staging.is_dir()


def test_a_version_from_the_future_is_a_clear_error(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path)
    future = version_dir(settings, "Toys", "29991231.235959")
    future.mkdir(parents=True)
    (future / MODEL_FILE).write_bytes(b"")
    with pytest.raises(TrainingError, match=r"29991231\.235959"):
        claim_version(settings, "Toys")
