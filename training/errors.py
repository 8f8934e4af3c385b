"""What training raises when a request cannot be carried out."""

from __future__ import annotations

from core.errors import SalescastError


class TrainingError(SalescastError):
    """A training request cannot be carried out (e.g. a comparison with a version that does not exist)."""
