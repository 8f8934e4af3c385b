"""Free loopback ports for test servers, so tests run beside a dev stack."""

from __future__ import annotations

from salescast.isolated_settings import free_port

__all__ = ["free_port"]
