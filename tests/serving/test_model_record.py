"""MLflow's registry as the record of versions (a real SQLite store): retention never deletes a
version with an alias, nor the archive of the served version or the one before it."""

from __future__ import annotations

from pathlib import Path

from core.contracts.champions import read_champions
from serving.archive import archive_version, list_archives
from serving.model_record import ModelRecord
from tests.conftest import make_test_settings
from tests.handlers.scripted_artifacts import write_scripted_version

VERSIONS = [f"2024010{day}.000000" for day in range(1, 6)]


def test_retention_keeps_every_aliased_version_and_its_archive(tmp_path: Path) -> None:
    settings = make_test_settings(tmp_path, archive={"keep_versions": 2})
    record = ModelRecord(settings)
    for seed, version in enumerate(VERSIONS):
        write_scripted_version(settings.paths.artifacts, "Beauty", version, seed=seed)
        archive_version(settings, "Beauty", version)
        record.record_version("Beauty", "beauty", version)
        if seed == 1:  # the first two served, then a rollback: the oldest two are aliased
            record.promote("Beauty", "beauty", VERSIONS[1])
            record.promote("Beauty", "beauty", VERSIONS[0])

    removed = record.prune("beauty", keep=2)

    # the newest two, plus every aliased one however old
    kept = {item.version: item.aliases for item in record.versions("beauty")}
    assert kept == {VERSIONS[0]: ("champion",), VERSIONS[1]: ("previous",), VERSIONS[3]: (), VERSIONS[4]: ()}
    assert removed == [VERSIONS[2]]
    archived = [info.version for info in list_archives(settings)]
    assert archived == [VERSIONS[0], VERSIONS[1], VERSIONS[3], VERSIONS[4]]  # the served two kept
    champion = read_champions(settings.paths.model_store).models["beauty"]
    assert (champion.version, champion.previous) == (VERSIONS[0], VERSIONS[1])
    assert len(champion.archive_sha256 or "") == 64
