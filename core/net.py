"""Addresses: the URL a client on this machine uses to reach a server bound to a host and port.

A server bound to every interface (`0.0.0.0`, `::`, empty) is reached on the loopback address of
the same family; an IPv6 address goes in brackets. Every part builds its URLs here.
"""

from __future__ import annotations

import ipaddress

_ANY_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def client_host(bind_host: str) -> str:
    """The address to connect to for a server bound to `bind_host` (`0.0.0.0` → `127.0.0.1`)."""
    return _ANY_TO_LOOPBACK.get(bind_host, bind_host)


def http_url(bind_host: str, port: int) -> str:
    """`http://host:port` for a server bound to `bind_host`, e.g. `http://[::1]:8000` for `::`."""
    host = client_host(bind_host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def is_loopback(bind_host: str) -> bool:
    """True when a server bound to `bind_host` is reachable from this machine only: `localhost` and
    loopback addresses; a host name or a wildcard (0.0.0.0, ::) is not."""
    if bind_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind_host).is_loopback
    except ValueError:
        return False
