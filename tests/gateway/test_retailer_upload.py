"""A retailer's export (300 categories) goes through the datasets API within its limits: gzipped, as
the upload limit (`gateway.max_upload_bytes`) expects a file that size to come, and every category
is found."""

from __future__ import annotations

import gzip
from collections.abc import Callable

from fastapi.testclient import TestClient

from core.retailer_sample import generate_retailer_sample

CATEGORIES = 300


def test_a_300_category_export_uploads_gzipped_within_the_limit(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    frame = generate_retailer_sample(seed=7, start="2024-01-01", years=1.0, categories=CATEGORIES)
    plain = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    packed = gzip.compress(plain, compresslevel=6, mtime=0)
    limit = client.app.state.gateway.settings.gateway.max_upload_bytes  # type: ignore[attr-defined]
    assert len(packed) < limit
    response = client.post(
        "/api/datasets", files={"file": ("retailer.csv.gz", packed, "application/gzip")}, data={}
    )
    assert response.status_code == 201, response.text[:500]
    body = response.json()
    assert len(body["categories"]) == CATEGORIES
    assert {item["category"] for item in body["categories"]} == set(frame["Product Category"])
