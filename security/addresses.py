"""Who is asking, as far as rate limits are concerned: an IPv4 address, or an IPv6 /64.

One home or phone gets a whole IPv6 /64 (18 billion billion addresses), so counting per IPv6
address would give anyone with one connection an unlimited supply of fresh counters. The
address is `request.remote_addr`, which ProxyFix sets from `X-Forwarded-For` only as far as
TRUSTED_PROXIES allows.
"""

from __future__ import annotations

import ipaddress

from flask import request

IPV6_NETWORK_PREFIX = 64


def client_network(address: str) -> str:
    """The limit key for an address: itself for IPv4 (also when mapped into IPv6), its /64 for
    IPv6, and the text unchanged when it is not an address at all (a test client, a socket)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_NETWORK_PREFIX), strict=False))
    return str(parsed)


def request_network() -> str:
    """The limit key of the request being served (the limiter's key function)."""
    return client_network(request.remote_addr or "127.0.0.1")
