"""The shard map: rendezvous hashing that every reader agrees on, pins, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.shard_map import ShardMap, ShardMapError, read_shard_map

ROOT = Path(__file__).resolve().parents[2]
MODELS = [f"category-{i:03d}" for i in range(300)]


def _map(*names: str, pins: dict[str, str] | None = None) -> ShardMap:
    return ShardMap.model_validate(
        {
            "format_version": 1,
            "shards": [
                {
                    "name": name,
                    "inference_url": f"http://{name}:8080",
                    "management_url": f"http://{name}:8081",
                }
                for name in names
            ],
            "pins": pins or {},
        }
    )


def test_categories_spread_over_the_shards_and_a_new_shard_moves_only_its_share() -> None:
    three = _map("0", "1", "2").split(MODELS)
    assert all(70 <= len(models) <= 130 for models in three.values()), {k: len(v) for k, v in three.items()}
    four = _map("0", "1", "2", "3")
    moved = [
        model for model in MODELS if four.shard_for(model).name != _map("0", "1", "2").shard_for(model).name
    ]
    assert all(four.shard_for(model).name == "3" for model in moved)  # only to the new shard
    assert 40 <= len(moved) <= 110  # ~1/4 of 300


def test_a_pin_overrides_the_hash() -> None:
    plain = _map("0", "1")
    model = MODELS[0]
    other = "1" if plain.shard_for(model).name == "0" else "0"
    assert _map("0", "1", pins={model: other}).shard_for(model).name == other


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("format_version: 1\nshards: []\n", "shards"),
        ("format_version: 2\nshards: [{name: a, inference_url: x, management_url: y}]\n", "format_version"),
        (
            "format_version: 1\nshards: [{name: a, inference_url: x, management_url: y}]\n"
            "pins: {beauty: z}\n",
            "pins name shards that are not listed",
        ),
        (
            "format_version: 1\nshards: [{name: a, inference_url: x, management_url: y},"
            " {name: a, inference_url: x, management_url: y}]\n",
            "unique",
        ),
        ("format_version: 1\nshards: [{name: a, inference_url: x}]\n", "management_url"),
        ("shards: [", "not valid YAML"),
    ],
)
def test_a_bad_map_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "shards.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ShardMapError, match=expected) as raised:
        read_shard_map(path)
    assert str(path) in str(raised.value)


def test_a_missing_map_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ShardMapError, match="cannot read the shard map"):
        read_shard_map(tmp_path / "nowhere.yaml")


@pytest.mark.parametrize(
    "path", ["deploy/kubernetes/base/config/shards.yaml", "deploy/kubernetes/overlays/dev/shards.yaml"]
)
def test_the_manifests_shard_maps_are_what_the_gateway_reads(path: str) -> None:
    shard_map = read_shard_map(ROOT / path)
    assert shard_map.shards and all(shard.pods_service for shard in shard_map.shards)
