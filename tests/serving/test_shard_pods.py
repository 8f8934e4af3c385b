"""A shard's pods for writes: the headless Service's addresses, each with the management port."""

from __future__ import annotations

import asyncio

from serving.sharded_management import _resolve_pods


def test_a_service_name_resolves_to_each_address_with_the_management_port() -> None:
    pods = asyncio.run(_resolve_pods("localhost", "http://torchserve-0:8081"))
    assert "http://127.0.0.1:8081" in pods
    assert all(url.endswith(":8081") for url in pods)


def test_a_name_that_does_not_resolve_leaves_the_shards_service() -> None:
    assert asyncio.run(_resolve_pods("torchserve-headless-0.invalid", "http://torchserve-0:8081")) == []
