"""Per-address limits on the credential paths: one policy, django-ratelimit on the shared cache.

django-axes locks one (username, address) pair after five failures; these limits bound what
one address can do across usernames: login attempts (failed or not; a password change's old
password counts as one), failed logins, signups, password-reset requests, and reset mails
per e-mail address. The middleware checks them before the view runs, so a refused attempt
costs no password hash. They count per address, never per username, so an attacker cannot
lock a victim out. IPv6 clients count per /64, the smallest block one subscriber is given
(RFC 6177): otherwise one host has 2**64 addresses.

If the cache is down the limits let requests through (fail open): django-axes, on the
database, still locks out password guessing, and refusing every login while Redis is down
would turn a cache incident into a site-wide login outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.http import CACHE_ERRORS, client_ip

logger = logging.getLogger(__name__)


def address_key(group: str, request: HttpRequest) -> str:
    """The client address (one trusted hop, as lockout sees it); an IPv6 client's /64."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    if ip_address(address).version == 6:
        return str(ip_network(f"{address}/64", strict=False).network_address)
    return address


def email_key(group: str, request: HttpRequest) -> str:
    """The e-mail address a reset is asked for, as Django matches it (case-insensitively)."""
    return request.POST.get("email", "").strip().lower()[:254]


@dataclass(frozen=True)
class Limit:
    group: str
    rate_setting: str  # the setting holding the rate, read when a request comes
    counted_here: bool = True  # False: counted elsewhere (failed logins), only checked here
    key: Callable[[str, HttpRequest], str] = address_key


FAILED_LOGIN = Limit("login-failed", "AUTH_LOGIN_FAILURE_RATE", counted_here=False)
LOGIN = (Limit("login", "AUTH_LOGIN_RATE"), FAILED_LOGIN)
# Every path that checks a password or sends a mail, by URL name.
POLICY: dict[str, tuple[Limit, ...]] = {
    "login": LOGIN,
    "admin:login": LOGIN,
    "compare:demo_login": LOGIN,
    "token_obtain_pair": LOGIN,
    "cookie_login": LOGIN,
    "password_change": LOGIN,  # the old password is a login's password (accounts.forms)
    "signup": (Limit("signup", "AUTH_SIGNUP_RATE"),),
    "password_reset": (
        Limit("reset", "AUTH_RESET_RATE"),
        Limit("reset-account", "AUTH_RESET_ACCOUNT_RATE", key=email_key),
    ),
}


def seconds_to_wait(*, request: HttpRequest, view_name: str) -> int | None:
    """Count this attempt against its path's limits; return the seconds to wait if over one."""
    for limit in POLICY.get(view_name, ()):
        usage = _usage(limit, request, increment=limit.counted_here)
        # A counted attempt is over when it goes past the limit; a failure count that
        # has reached the limit refuses the next attempt.
        if usage and usage["count"] > usage["limit"] - (0 if limit.counted_here else 1):
            return max(usage["time_left"], 1)
    return None


def record_failed_login(*, request: HttpRequest | None) -> None:
    """Count a failed login (any path, any username) against the client's address."""
    if request is not None:
        _usage(FAILED_LOGIN, request, increment=True)


def _usage(limit: Limit, request: HttpRequest, *, increment: bool) -> dict | None:
    try:
        return get_usage(
            request, group=limit.group, key=limit.key, rate=getattr(settings, limit.rate_setting), increment=increment
        )
    except CACHE_ERRORS:
        logger.warning("Rate-limit cache unavailable; letting %s through (lockout still applies)", limit.group)
        return None
