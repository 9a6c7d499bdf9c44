"""What a request says about its client, and the errors the shared cache may raise.

`client_ip` is the one answer to "which address is this?" for lockout, throttling, the
login limits and the audit log: change it here and every one of them follows.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_address

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from user_agents import parse as parse_user_agent

# What a cache call raises when Redis is down or times out (django-redis wraps some of them).
CACHE_ERRORS = (RedisError, ConnectionInterrupted)
# A store that did not answer (or, for Redis, did not replicate a write): answered 503, not 500.
OUTAGES = (DatabaseError, *CACHE_ERRORS)


def client_ip(request: HttpRequest | None) -> str | None:
    """Return the client's address, as one trusted hop saw it.

    X-Forwarded-For is whatever the client says, so it is ignored unless DJANGO_BEHIND_PROXY
    says a proxy of ours appends to it; then its last entry (the address that proxy saw)
    counts. Lockout, throttling and the audit log all use this one answer.
    """
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        address = forwarded or address
    try:
        ip = ip_address(address)
    except ValueError:
        return None
    # A dual-stack listener ([::]) reports an IPv4 client as ::ffff:a.b.c.d. Unwrapped, it is
    # that client's own address; left wrapped, every IPv4 client would share the /64 `::` that
    # the per-address limits key IPv6 clients by (one attacker would lock out all of IPv4).
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def user_agent(request: HttpRequest | None) -> str:
    return request.headers.get("User-Agent", "")[:512] if request is not None else ""


@lru_cache(maxsize=1024)
def describe_user_agent(raw: str) -> str:
    """Return "Browser on OS" for a User-Agent header, or "Unknown client"."""
    if not raw:
        return "Unknown client"
    agent = parse_user_agent(raw)
    browser, os = agent.browser.family, agent.os.family
    if browser == "Other" and os == "Other":
        return raw[:40]
    return f"{browser} on {os}"
