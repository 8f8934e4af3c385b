"""`gateway.api_key_file`: the gateway creates a random key once, the UI reads it, an explicit key wins."""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from pathlib import Path

import pytest

from core import api_key
from core.api_key import ApiKeyFileError, with_api_key_from_file
from core.settings import Settings, load_settings


def _settings(**gateway: object) -> Settings:
    return load_settings(environ={}).with_overrides({"gateway": gateway})


def test_without_a_key_file_nothing_changes(tmp_path: Path) -> None:
    settings = _settings()
    assert with_api_key_from_file(settings, create=True) is settings
    assert settings.gateway.api_key is None


def test_the_gateway_creates_an_owner_only_random_key_once(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "api_key"
    settings = _settings(api_key_file=str(path))
    first = with_api_key_from_file(settings, create=True).gateway.api_key
    assert first and len(first) >= 40
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = with_api_key_from_file(settings, create=True).gateway.api_key
    ui = with_api_key_from_file(settings, create=False).gateway.api_key
    assert again == ui == first
    other = with_api_key_from_file(_settings(api_key_file=str(tmp_path / "other")), create=True)
    assert other.gateway.api_key != first


def test_an_explicit_key_wins_and_no_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "api_key"
    settings = _settings(api_key="chosen-key", api_key_file=str(path))
    assert with_api_key_from_file(settings, create=True).gateway.api_key == "chosen-key"
    assert not path.exists()


def test_the_ui_needs_the_file_the_gateway_creates(tmp_path: Path) -> None:
    settings = _settings(api_key_file=str(tmp_path / "api_key"))
    with pytest.raises(ApiKeyFileError, match=r"does not exist.*start the gateway first"):
        with_api_key_from_file(settings, create=False)


def test_an_empty_file_is_an_error_not_an_empty_key(tmp_path: Path) -> None:
    path = tmp_path / "api_key"
    path.write_text("\n")
    with pytest.raises(ApiKeyFileError, match=r"is empty"):
        with_api_key_from_file(_settings(api_key_file=str(path)), create=True)


def test_a_file_that_cannot_be_created_names_the_file_and_the_way_out(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.raises(ApiKeyFileError, match=r"cannot create gateway.api_key_file .*SALESCAST_API_KEY"):
        with_api_key_from_file(_settings(api_key_file=str(not_a_folder / "api_key")), create=True)


def test_two_gateways_starting_at_once_agree_and_never_read_an_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first gateway is held while it makes its key; the second must neither read an empty file
    nor end up with another key than the first."""
    settings = _settings(api_key_file=str(tmp_path / "api_key"))
    held = threading.Event()
    release = threading.Event()
    real = secrets.token_urlsafe

    def token(size: int) -> str:
        if threading.current_thread().name == "first":
            held.set()
            assert release.wait(10)
        return real(size)

    monkeypatch.setattr(secrets, "token_urlsafe", token)
    keys: dict[str, str | None] = {}
    first = threading.Thread(
        name="first",
        target=lambda: keys.update(first=with_api_key_from_file(settings, create=True).gateway.api_key),
    )
    first.start()
    try:
        assert held.wait(10)
        with pytest.raises(ApiKeyFileError, match="does not exist"):
            with_api_key_from_file(settings, create=False)  # the UI: no half-made file to read
        keys["second"] = with_api_key_from_file(settings, create=True).gateway.api_key
    finally:
        release.set()
        first.join(10)
    assert keys["first"] == keys["second"] == (tmp_path / "api_key").read_text().strip()
    assert [path.name for path in tmp_path.iterdir()] == ["api_key"]  # no temp file left


def test_without_hard_links_the_key_is_renamed_into_place_and_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some mounted file systems refuse hard links (EPERM): the key is renamed there instead."""

    def no_links(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "api_key"
    settings = _settings(api_key_file=str(path))
    first = with_api_key_from_file(settings, create=True).gateway.api_key
    assert first and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    api_key._create(path)  # a second gateway that found no file a moment before
    assert path.read_text().strip() == first
    assert [entry.name for entry in tmp_path.iterdir()] == ["api_key"]
