"""The object store and the versions in it, against a real S3 server (SeaweedFS, auth on; no mocks).

Push, list, pull and delete versions; a half-pushed version is invisible; a tampered archive is
refused before it reaches the model store; the champions manifest round-trips and never names a
version the bucket cannot restore; a wrong key, a missing bucket and an unreachable endpoint each
fail fast with a message that says what to do and never holds the secret.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
import zipfile
from pathlib import Path

import pytest

from core.contracts.champions import Champion, Champions, read_champions
from core.contracts.files import ContractError
from core.hashing import file_sha256
from core.settings import StorageSettings, load_settings
from serving.archive import list_archives_in
from serving.object_store import (
    BucketNotFoundError,
    CredentialsRefusedError,
    ObjectNotFoundError,
    ObjectStore,
    ObjectStoreError,
    ObjectStoreUnreachableError,
    storage_endpoint,
)
from serving.version_store import (
    CHAMPIONS_KEY,
    Restored,
    TamperedArchiveError,
    VersionStore,
    VersionStoreError,
    archive_key,
    checksum_key,
    version_prefix,
)
from tests.fixtures.seaweedfs import S3Account, SeaweedS3
from tests.support.ports import free_port

V1, V2, V3 = "20260101.120000", "20260102.120000", "20260103.120000"
FAST_FAIL_S = 10.0  # an unreachable endpoint must fail within this, retries included


@pytest.fixture
def store(seaweedfs: SeaweedS3) -> ObjectStore:
    """The admin's store under a fresh prefix of the session bucket."""
    return ObjectStore(seaweedfs.storage(), environ=seaweedfs.admin.environ())


@pytest.fixture
def versions(store: ObjectStore) -> VersionStore:
    return VersionStore(store)


def make_archive(path: Path, payload: bytes) -> Path:
    """A small zip shaped like a .mar (TorchServe's archives are zips)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("MAR-INF/MANIFEST.json", json.dumps({"model": {"modelName": path.stem}}))
        archive.writestr("model.pt", payload)
    return path


@pytest.fixture
def version_files(tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """An archive and the other files of a version (model.pt, the stats, a plot in a subfolder)."""
    src = tmp_path / "src"
    (src / "plots").mkdir(parents=True)
    (src / "model.pt").write_bytes(os.urandom(2048))
    (src / "norm_stats.json").write_text('{"format_version": 2}\n')
    (src / "plots" / "forecast.png").write_bytes(b"\x89PNG" + os.urandom(512))
    extras = {"model.pt": src / "model.pt", "norm_stats.json": src / "norm_stats.json"}
    extras["plots/forecast.png"] = src / "plots" / "forecast.png"
    return make_archive(tmp_path / "a.mar", os.urandom(4096)), extras


def secret_free(exc: BaseException, *secrets: str) -> bool:
    """True when neither the message nor the whole formatted traceback holds any of `secrets`."""
    text = str(exc) + "".join(traceback.format_exception(exc))
    return not any(secret in text for secret in secrets)


# ---- objects --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_objects_put_get_list_delete(store: ObjectStore, seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    store.check(write=True)
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(9 * 1024 * 1024))  # above boto3's multipart threshold (8 MB)
    store.put_file(local, "a/big.bin")
    store.put_bytes("a/small.txt", b"hello")
    store.put_bytes("b/other.txt", b"other")

    assert store.list_keys() == ["a/big.bin", "a/small.txt", "b/other.txt"]
    assert store.list_keys("a/") == ["a/big.bin", "a/small.txt"]
    assert store.get_bytes("a/small.txt") == b"hello"
    dest = tmp_path / "out" / "big.bin"
    assert store.get_file("a/big.bin", dest) == dest
    assert file_sha256(dest) == file_sha256(local)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["big.bin"]  # no temp file left beside it
    assert store.exists("a/small.txt") and not store.exists("a/missing.txt")
    with pytest.raises(ObjectNotFoundError, match=r"a/missing\.txt"):
        store.get_bytes("a/missing.txt")

    neighbour = ObjectStore(seaweedfs.storage(), environ=seaweedfs.admin.environ())
    assert neighbour.list_keys() == []  # keys are relative to each store's own prefix

    assert store.delete_prefix("a/") == 2
    store.delete("b/other.txt")
    assert store.list_keys() == []
    with pytest.raises(ObjectStoreError, match="invalid object key"):
        store.put_bytes("../escape", b"x")


@pytest.mark.slow
def test_endpoint_from_environment_works(seaweedfs: SeaweedS3) -> None:
    """With `storage.endpoint_url` null, MLflow's endpoint variable reaches the same server."""
    storage = seaweedfs.storage(endpoint_url=None)
    env = {**seaweedfs.admin.environ(), "MLFLOW_S3_ENDPOINT_URL": seaweedfs.endpoint_url}
    store = ObjectStore(storage, environ=env)
    assert store.endpoint_url == seaweedfs.endpoint_url
    store.check()


def test_endpoint_order() -> None:
    env = {
        "AWS_ENDPOINT_URL_S3": "http://s3-only:1",
        "AWS_ENDPOINT_URL": "http://aws:2",
        "MLFLOW_S3_ENDPOINT_URL": "http://mlflow:3/",
    }
    set_one = StorageSettings(uri="s3://models", endpoint_url="http://setting:4")
    unset = StorageSettings(uri="s3://models")
    assert storage_endpoint(set_one, env) == "http://setting:4"
    assert storage_endpoint(unset, env) == "http://s3-only:1"
    assert (
        storage_endpoint(unset, {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL_S3"})
        == "http://aws:2"
    )
    assert storage_endpoint(unset, {"MLFLOW_S3_ENDPOINT_URL": "http://mlflow:3/"}) == "http://mlflow:3"
    assert storage_endpoint(unset, {}) is None
    leaky = ObjectStore(unset, environ={"AWS_ENDPOINT_URL": "http://user:pa55word@minio:9000"})
    assert leaky.where == "http://minio:9000"


def test_local_only_by_default_and_credentials_are_no_setting() -> None:
    settings = load_settings(environ={"AWS_SECRET_ACCESS_KEY": "do-not-dump-me"})
    assert settings.storage.uri == "" and not settings.storage.enabled
    assert "do-not-dump-me" not in settings.model_dump_json()
    with pytest.raises(ObjectStoreError, match="local files only"):
        ObjectStore(settings.storage)


# ---- failures a user can cause --------------------------------------------------------------------


@pytest.mark.slow
def test_wrong_secret_is_refused_without_showing_it(seaweedfs: SeaweedS3) -> None:
    wrong = S3Account(seaweedfs.admin.access_key, "not-the-secret-" + "x" * 12)
    storage = seaweedfs.storage()
    store = ObjectStore(storage, environ=wrong.environ())
    assert wrong.secret_key not in repr(store)
    with pytest.raises(CredentialsRefusedError) as refused:
        store.check()
    message = str(refused.value)
    assert "AWS_SECRET_ACCESS_KEY" in message
    assert seaweedfs.bucket in message and seaweedfs.endpoint_url in message
    assert secret_free(refused.value, wrong.secret_key, seaweedfs.admin.secret_key)

    with pytest.raises(CredentialsRefusedError):
        store.put_bytes("x.txt", b"x")
    assert ObjectStore(storage, environ=seaweedfs.admin.environ()).list_keys() == []  # nothing written


@pytest.mark.slow
def test_unknown_access_key_is_refused(seaweedfs: SeaweedS3) -> None:
    stranger = S3Account("nobody-knows-me", "some-secret-value-123")
    with pytest.raises(CredentialsRefusedError, match="AWS_ACCESS_KEY_ID") as refused:
        ObjectStore(seaweedfs.storage(), environ=stranger.environ()).check()
    assert secret_free(refused.value, stranger.secret_key)


@pytest.mark.slow
def test_read_only_key_may_read_but_not_write(seaweedfs: SeaweedS3) -> None:
    store = ObjectStore(seaweedfs.storage(), environ=seaweedfs.reader.environ())
    store.check()
    with pytest.raises(CredentialsRefusedError, match="lacks that permission") as refused:
        store.check(write=True)
    assert secret_free(refused.value, seaweedfs.reader.secret_key)


@pytest.mark.slow
def test_missing_bucket_is_named(seaweedfs: SeaweedS3) -> None:
    store = ObjectStore(seaweedfs.storage(bucket="no-such-bucket"), environ=seaweedfs.admin.environ())
    with pytest.raises(BucketNotFoundError, match="bucket 'no-such-bucket' does not exist") as missing:
        store.check()
    assert seaweedfs.endpoint_url in str(missing.value) and "storage.uri" in str(missing.value)
    with pytest.raises(BucketNotFoundError):  # an upload does not create it either
        store.put_bytes("x.txt", b"x")


def test_unreachable_endpoint_fails_fast() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = ObjectStore(
        StorageSettings(uri="s3://models/p", endpoint_url=endpoint),
        environ={"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
    )
    started = time.monotonic()
    with pytest.raises(ObjectStoreUnreachableError, match="cannot reach the object store") as unreachable:
        store.check()
    assert time.monotonic() - started < FAST_FAIL_S
    assert endpoint in str(unreachable.value) and "storage.endpoint_url" in str(unreachable.value)
    assert secret_free(unreachable.value, "s3cr3t-value")


def test_silent_endpoint_times_out() -> None:
    """A server that accepts connections but never answers: bounded by read_timeout_s × attempts."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        storage = StorageSettings(uri="s3://models", endpoint_url=endpoint, read_timeout_s=1.0, retries=1)
        store = ObjectStore(storage, environ={"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
        started = time.monotonic()
        with pytest.raises(ObjectStoreUnreachableError, match=endpoint):
            store.check()
        assert time.monotonic() - started < FAST_FAIL_S


class LosesConnectionAtChecksum(ObjectStore):
    """The real store, except that the connection drops on a push's last PUT (the checksum)."""

    def put_bytes(self, key: str, data: bytes) -> None:
        if key.endswith(".sha256"):
            raise ObjectStoreUnreachableError(f"connection lost before {key}")
        super().put_bytes(key, data)


@pytest.mark.slow
def test_push_interrupted_before_its_checksum_is_invisible(
    versions: VersionStore,
    version_files: tuple[Path, dict[str, Path]],
    seaweedfs: SeaweedS3,
    tmp_path: Path,
) -> None:
    archive, extras = version_files
    served = versions.push_version(archive, "beauty", V1, extras)
    champions = Champions(
        models={"beauty": Champion(category="Beauty", version=V1, archive_sha256=served.sha256)}
    )
    versions.write_champions(champions)

    flaky = VersionStore(
        LosesConnectionAtChecksum(versions_storage(versions, seaweedfs), seaweedfs.admin.environ())
    )
    newer = make_archive(tmp_path / "newer.mar", os.urandom(4096))
    with pytest.raises(ObjectStoreUnreachableError):
        flaky.push_version(newer, "beauty", V2, extras)
    assert versions.store.exists(archive_key("beauty", V2))  # everything but the checksum was uploaded
    assert versions.list_versions("beauty") == [V1]
    assert versions.read_champions() == champions
    with pytest.raises(VersionStoreError, match="push did not finish"):
        versions.pull_archive("beauty", V2, tmp_path / "model_store")

    with pytest.raises(VersionStoreError, match="is not a file"):
        versions.push_version(newer, "beauty", V2, {"model.pt": tmp_path / "missing.pt"})
    versions.push_version(newer, "beauty", V2, extras)  # the retry completes it
    assert versions.list_versions("beauty") == [V1, V2]


def versions_storage(versions: VersionStore, seaweedfs: SeaweedS3) -> StorageSettings:
    """The storage settings of `versions`' location (for another account on the same prefix)."""
    return seaweedfs.storage(prefix=versions.store.prefix)


# ---- versions -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_list_pull_delete_versions(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    archive, extras = version_files
    other = make_archive(tmp_path / "b.mar", os.urandom(4096))
    pushed = versions.push_version(archive, "beauty", V1, extras)
    versions.push_version(other, "beauty", V2, extras)
    versions.push_version(other, "home-garden", V1)

    assert pushed.sha256 == file_sha256(archive)
    assert versions.list_models() == ["beauty", "home-garden"]
    assert versions.list_versions("beauty") == [V1, V2]
    assert versions.complete_versions() == {"beauty": [V1, V2], "home-garden": [V1]}
    assert versions.version_files("beauty", V1).files == ["model.pt", "norm_stats.json", "plots/forecast.png"]
    stored_line = versions.store.get_bytes(checksum_key("beauty", V1)).decode()
    assert stored_line == f"{pushed.sha256}  beauty-{V1}.mar\n"  # `sha256sum -c` reads it

    model_store = tmp_path / "restored" / "model_store"  # an empty machine
    placed = versions.pull_archive("beauty", V1, model_store, expected_sha256=pushed.sha256)
    assert placed == model_store / f"beauty-{V1}.mar"
    assert placed.read_bytes() == archive.read_bytes()
    model_pt = versions.pull_file("beauty", V1, "model.pt", tmp_path / "restored" / "model.pt")
    assert model_pt.read_bytes() == extras["model.pt"].read_bytes()

    assert versions.delete_version("beauty", V1) == 4  # the archive and three files, after the checksum
    assert versions.list_versions("beauty") == [V2]
    assert versions.store.list_keys(version_prefix("beauty", V1)) == []
    with pytest.raises(VersionStoreError, match="no complete version beauty"):
        versions.pull_archive("beauty", V1, model_store)


@pytest.mark.slow
def test_a_pushed_version_never_changes(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    archive, extras = version_files
    first = versions.push_version(archive, "beauty", V1, extras)
    assert versions.push_version(archive, "beauty", V1, extras) == first  # a retried push: no-op
    imposter = make_archive(tmp_path / "imposter.mar", b"other weights")
    with pytest.raises(VersionStoreError, match="already holds another archive"):
        versions.push_version(imposter, "beauty", V1)
    assert versions.store.get_bytes(archive_key("beauty", V1)) == archive.read_bytes()


@pytest.mark.slow
def test_half_pushed_version_is_not_listed(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    """Everything but the checksum uploaded (the push died before its last PUT): not a version."""
    archive, extras = version_files
    versions.store.put_file(extras["model.pt"], version_prefix("beauty", V1) + "model.pt")
    versions.store.put_file(archive, archive_key("beauty", V1))
    assert versions.list_versions("beauty") == []
    assert versions.list_models() == []
    with pytest.raises(VersionStoreError, match="push did not finish"):
        versions.pull_archive("beauty", V1, tmp_path / "model_store")
    assert not (tmp_path / "model_store").exists() or not any((tmp_path / "model_store").iterdir())

    versions.push_version(archive, "beauty", V1, extras)  # the retry completes it
    assert versions.list_versions("beauty") == [V1]


@pytest.mark.slow
def test_failed_push_leaves_the_served_version_untouched(
    versions: VersionStore,
    version_files: tuple[Path, dict[str, Path]],
    seaweedfs: SeaweedS3,
    tmp_path: Path,
) -> None:
    archive, extras = version_files
    served = versions.push_version(archive, "beauty", V1, extras)
    champions = Champions(
        models={"beauty": Champion(category="Beauty", version=V1, archive_sha256=served.sha256)}
    )
    versions.write_champions(champions)

    read_only = VersionStore(ObjectStore(versions_storage(versions, seaweedfs), seaweedfs.reader.environ()))
    newer = make_archive(tmp_path / "newer.mar", os.urandom(4096))
    with pytest.raises(CredentialsRefusedError):
        read_only.push_version(newer, "beauty", V2, extras)

    assert versions.list_versions("beauty") == [V1]
    assert versions.read_champions() == champions
    placed = versions.pull_archive("beauty", V1, tmp_path / "model_store", expected_sha256=served.sha256)
    assert file_sha256(placed) == served.sha256


@pytest.mark.slow
def test_tampered_archive_is_refused_and_not_placed(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    archive, extras = version_files
    pushed = versions.push_version(archive, "beauty", V1, extras)
    tampered = make_archive(tmp_path / "evil.mar", b"handler code nobody reviewed")
    versions.store.put_file(tampered, archive_key("beauty", V1))  # changed in the bucket after the push

    model_store = tmp_path / "model_store"
    model_store.mkdir()
    with pytest.raises(
        TamperedArchiveError, match=rf"s3://.*/models/beauty/{V1}/beauty-{V1}\.mar"
    ) as refused:
        versions.pull_archive("beauty", V1, model_store)
    assert (refused.value.expected, refused.value.actual) == (pushed.sha256, file_sha256(tampered))
    assert pushed.sha256 in str(refused.value) and "changed in the bucket" in str(refused.value)
    assert list(model_store.iterdir()) == []  # neither the archive nor a temp file

    # The manifest's SHA-256 is checked too: a bucket whose archive and checksum were both replaced.
    versions.store.put_bytes(checksum_key("beauty", V1), f"{file_sha256(tampered)}  x.mar\n".encode())
    with pytest.raises(TamperedArchiveError, match="champions manifest"):
        versions.pull_archive("beauty", V1, model_store, expected_sha256=pushed.sha256)
    assert list(model_store.iterdir()) == []


@pytest.mark.slow
def test_pull_keeps_a_verified_local_archive(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    archive, _ = version_files
    versions.push_version(archive, "beauty", V1)
    model_store = tmp_path / "model_store"
    placed = versions.pull_archive("beauty", V1, model_store)
    before = placed.stat().st_mtime_ns
    assert versions.pull_archive("beauty", V1, model_store) == placed
    assert placed.stat().st_mtime_ns == before  # synced already: not downloaded again
    placed.write_bytes(b"corrupted on disk")
    versions.pull_archive("beauty", V1, model_store)
    assert placed.read_bytes() == archive.read_bytes()


# ---- champions manifest ---------------------------------------------------------------------------


@pytest.mark.slow
def test_champions_manifest_round_trip(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    assert versions.read_champions() == Champions()  # none yet
    archive, extras = version_files
    beauty = versions.push_version(archive, "beauty", V1, extras)
    garden = versions.push_version(make_archive(tmp_path / "g.mar", b"g"), "home-garden", V2)
    champions = Champions(
        models={
            "beauty": Champion(category="Beauty", version=V1, archive_sha256=beauty.sha256, run_id="r1"),
            "home-garden": Champion(category="Home & Garden", version=V2, archive_sha256=garden.sha256),
        }
    )
    versions.write_champions(champions)
    assert versions.read_champions() == champions
    raw = json.loads(versions.store.get_bytes(CHAMPIONS_KEY))
    assert raw["format_version"] == 1
    assert raw["models"]["beauty"]["run_id"] == "r1"

    missing = Champions(models={"beauty": Champion(category="Beauty", version=V3)})
    with pytest.raises(VersionStoreError, match=f"names beauty {V3}, which is not a complete version"):
        versions.write_champions(missing)
    wrong_sha = Champions(models={"beauty": Champion(category="Beauty", version=V1, archive_sha256="0" * 64)})
    with pytest.raises(VersionStoreError, match="the bucket holds"):
        versions.write_champions(wrong_sha)
    assert versions.read_champions() == champions  # a refused write changed nothing

    with pytest.raises(VersionStoreError, match="move the champion first"):
        versions.delete_version("beauty", V1)
    assert versions.list_versions("beauty") == [V1]

    versions.store.put_bytes(CHAMPIONS_KEY, b'{"format_version": 99}')
    with pytest.raises(ContractError, match="not a valid champions manifest"):
        versions.read_champions()


@pytest.mark.slow
def test_restore_onto_an_empty_machine(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    """The bucket alone: the champions' archives (verified), their categories and champions.json."""
    assert versions.restore(tmp_path / "nothing-yet") == Restored(Champions(), [])
    archive, extras = version_files
    old = versions.push_version(archive, "beauty", V1, extras)
    new = versions.push_version(make_archive(tmp_path / "n.mar", b"new"), "beauty", V2, extras)
    garden = versions.push_version(make_archive(tmp_path / "g.mar", b"g"), "home-garden", V1)
    versions.push_version(make_archive(tmp_path / "x.mar", b"x"), "home-garden", V3)  # never served
    champions = Champions(
        models={
            "beauty": Champion(category="Beauty", version=V2, previous=V1, archive_sha256=new.sha256),
            "home-garden": Champion(category="Home & Garden", version=V1, archive_sha256=garden.sha256),
        }
    )
    versions.write_champions(champions)

    model_store = tmp_path / "empty-machine" / "model_store"
    restored = versions.restore(model_store)
    assert restored.champions == champions
    served = {(info.category, info.version, file_sha256(info.path)) for info in list_archives_in(model_store)}
    assert served == {
        ("Beauty", V1, old.sha256),
        ("Beauty", V2, new.sha256),
        ("Home & Garden", V1, garden.sha256),
    }
    assert read_champions(model_store) == champions


@pytest.mark.slow
def test_restore_refuses_a_tampered_champion(
    versions: VersionStore, version_files: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    archive, _ = version_files
    pushed = versions.push_version(archive, "beauty", V1)
    versions.write_champions(
        Champions(models={"beauty": Champion(category="Beauty", version=V1, archive_sha256=pushed.sha256)})
    )
    versions.store.put_bytes(archive_key("beauty", V1), b"PK not the pushed archive")
    model_store = tmp_path / "model_store"
    with pytest.raises(TamperedArchiveError):
        versions.restore(model_store)
    assert not model_store.exists() or list(model_store.iterdir()) == []  # nothing served, nothing recorded


@pytest.mark.parametrize(
    ("model_name", "version"), [("Beauty", V1), ("../x", V1), ("beauty", "latest"), ("beauty", "../..")]
)
def test_invalid_names_are_refused(model_name: str, version: str) -> None:
    with pytest.raises(VersionStoreError, match="invalid"):
        version_prefix(model_name, version)
