"""Free loopback ports for test servers, so tests run beside a dev stack."""

from __future__ import annotations

from salescast.bench.isolation import free_port

__all__ = ["free_port"]
