"""The index of archived versions tells the gateway what the handler would: the facts read from a
`.mar` equal the handler's own describe answer (asked from a live worker), for every served archive."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.contracts.files import ContractError
from core.settings import Settings
from handlers import version_stats
from serving.archive import ArchiveInfo
from serving.management_client import ManagementClient
from serving.torchserve_process import TorchServeProcess
from serving.version_index import VersionIndex, read_archived
from tests.conftest import make_test_settings
from tests.serving.calendar_archive import CALENDAR_SUMMARY, calendar_archive

pytestmark = pytest.mark.torchserve


def test_archived_facts_equal_the_handlers_describe(
    torchserve: TorchServeProcess, model_store_archives: dict[str, ArchiveInfo]
) -> None:
    async def described() -> dict[str, object]:
        async with ManagementClient(torchserve.management_url) as client:
            return {
                info.category: await client.served_info(info.model_name, info.version)
                for info in model_store_archives.values()
            }

    from_handler = asyncio.run(described())
    for category, info in model_store_archives.items():
        assert read_archived(info) == from_handler[category], category


def test_the_index_lists_every_archive(
    test_settings: Settings, model_store_archives: dict[str, ArchiveInfo]
) -> None:
    index = VersionIndex(test_settings.paths.model_store)
    versions = index.scan()
    for info in model_store_archives.values():
        entry = index.get(info.model_name, info.version)
        assert entry is not None and entry.info.category == info.category
        assert [v.version for v in versions[info.model_name]][-1] == info.version
    assert index.get("no-such-model", "20240101.000000") is None


def test_a_broken_archive_is_left_out_with_a_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "toys-20240101.000000.mar"
    with zipfile.ZipFile(broken, "w") as packed:
        packed.writestr("model.pt", b"not a model")
    info = ArchiveInfo("toys", "toys", "20240101.000000", broken)
    with pytest.raises(ContractError, match=r"norm_stats\.json"):
        read_archived(info)
    assert VersionIndex(tmp_path).scan() == {}
    assert "archive not indexed" in caplog.text


def test_the_index_holds_the_handlers_describe_answer(tmp_path: Path) -> None:
    """The archive's facts, its calendar block summed up, are the handler's own describe answer
    (torch-free, so the gateway reads it too)."""
    settings = make_test_settings(tmp_path)
    with_terms = calendar_archive(settings, "Beauty", "20240101.000000")
    without = calendar_archive(settings, "Clothing", "20240101.000000", calendar=False)
    assert read_archived(with_terms).calendar == CALENDAR_SUMMARY
    assert read_archived(without).calendar is None
    with zipfile.ZipFile(with_terms.path) as packed:
        stats = json.loads(packed.read("norm_stats.json"))
    assert read_archived(with_terms).calendar == version_stats.describe(stats, {})["calendar"]


def test_the_index_reads_archives_without_torch() -> None:
    """The gateway describes archived versions with the handler's own `describe` and never loads
    torch for it (hundreds of MB a gateway process does not need)."""
    code = "import sys, gateway.model_registry, serving.version_index; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
