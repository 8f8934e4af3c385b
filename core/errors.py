"""The base of every error a user can cause; the CLI and the gateway turn these into clear messages."""

from __future__ import annotations


class SalescastError(Exception):
    """A failure with a message meant for the user (no traceback needed)."""
