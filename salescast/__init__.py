"""salescast: next-day sales forecasts per product category, trained and served end to end."""

from __future__ import annotations

__version__ = "0.1.0"
