"""The one comparison of a Ray-executed result with the local executor's: equal but for float tolerance."""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from typing import Any

# Both executors run the same seeded, deterministic fits on one torch thread from the same shared
# networks (shipped to the tasks bit for bit), so the numbers agree exactly (measured: 0.0 on every
# metric, quantile and forecast); the tolerance only leaves room for float reordering.
REL_TOL = 1e-9
ABS_TOL = 1e-12


def differences(skip: Set[str], local: Any, ray: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ beyond the float tolerance (keys in `skip` left out)."""
    if isinstance(local, Mapping) and isinstance(ray, Mapping):
        if set(local) != set(ray):
            return [f"{path}: keys {sorted(set(local) ^ set(ray))}"]
        return [
            d
            for key in local
            if key not in skip
            for d in differences(skip, local[key], ray[key], f"{path}.{key}")
        ]
    if isinstance(local, list) and isinstance(ray, list):
        if len(local) != len(ray):
            return [f"{path}: {len(local)} vs {len(ray)} items"]
        return [
            d
            for i, (a, b) in enumerate(zip(local, ray, strict=True))
            for d in differences(skip, a, b, f"{path}[{i}]")
        ]
    if isinstance(local, float) and isinstance(ray, float):
        close = math.isclose(local, ray, rel_tol=REL_TOL, abs_tol=ABS_TOL) or (
            math.isnan(local) and math.isnan(ray)
        )
        return [] if close else [f"{path}: {local!r} vs {ray!r}"]
    return [] if local == ray else [f"{path}: {local!r} vs {ray!r}"]
