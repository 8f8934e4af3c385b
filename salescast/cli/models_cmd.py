"""`salescast models pull` — bring every served version back from the bucket (`storage.uri`).

For a new or replaced machine: the bucket's champions.json names each category's served version
(and the one before it); their archives are downloaded, checked against their SHA-256 (a `.mar`
runs handler code, so a tampered object is refused and nothing is placed) and recorded in the model
store's champions.json, which `salescast serve torchserve` serves.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.settings import Settings
from salescast.cli.options import UsageError


def register(subparsers: Any) -> None:
    """Add the `models` command group."""
    parser = subparsers.add_parser("models", help="the served versions on object storage")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "pull",
        help="restore every category's served version from the bucket into model_store/",
        description="Download each champion (and previous) archive named by the bucket's champions.json.",
    ).set_defaults(handler=_pull)


def _pull(args: argparse.Namespace, settings: Settings) -> int:
    from serving.bucket_sync import BucketSync

    bucket = BucketSync(settings)
    if not bucket.enabled:
        raise UsageError(
            "storage.uri is empty: set it to s3://bucket/prefix (configs/, or SALESCAST_STORAGE__URI)"
        )
    restored = bucket.restore(settings.paths.model_store)
    assert restored is not None
    for model_name, champion in sorted(restored.champions.models.items()):
        previous = f" (previous {champion.previous})" if champion.previous else ""
        print(f"{champion.category}: version {champion.version}{previous} as model {model_name}")
    print(f"{len(restored.archives)} archives in {settings.paths.model_store} from {bucket.where}")
    return 0
