"""The verifier's configuration, from the environment; a bad value is one line naming it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ASYMMETRIC = ("RS256", "ES256", "EdDSA")


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


def _url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL.")
    return value


def _number(name: str, default: float, *, minimum: float = 0, maximum: float = float("inf")) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number.") from None
    if not minimum <= value <= maximum:  # NaN fails too
        bound = f"at least {minimum:g}" + (f" and at most {maximum:g}" if maximum != float("inf") else "")
        raise ConfigError(f"{name}={raw!r} must be {bound}.")
    return value


def _feed_token() -> str | None:
    """The verifier's bearer secret for the revocation feed (authdemo's REVOCATION_FEED_TOKEN)."""
    token = os.environ.get("REVOCATION_FEED_TOKEN", "").strip()
    if token and (re.fullmatch(r"[!-~]{32,}", token) is None or "," in token):
        raise ConfigError("REVOCATION_FEED_TOKEN must be one token of at least 32 printable ASCII bytes, no commas.")
    return token or None


@dataclass(frozen=True)
class Config:
    jwks_url: str
    revocation_url: str | None  # None: revocation is not followed (tokens live until exp)
    port: int
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    cooldown: float  # seconds between key-set fetches caused by unknown kids
    poll: float  # seconds between revocation feed fetches
    leeway: float  # never more than authdemo's, which its revocation feed carries
    jwks_max_stale: float  # seconds the last good key set is used past its max-age; then 503
    feed_max_stale: float  # seconds past its issue time (iat) a revocation feed is relied on; then 503
    feed_clock_skew: float  # seconds authdemo's clock may be behind ours; added to feed_max_stale
    feed_token: str | None  # bearer secret for the feed; None: read it anonymously (authdemo in debug)
    timeout: float  # for each HTTP request to authdemo

    @classmethod
    def from_env(cls) -> Config:
        jwks_url = os.environ.get("JWKS_URL", "").strip()
        if not jwks_url:
            raise ConfigError("JWKS_URL must be set, e.g. http://127.0.0.1:8000/.well-known/jwks.json.")
        _url("JWKS_URL", jwks_url)
        parts = urlsplit(jwks_url)
        default_feed = f"{parts.scheme}://{parts.netloc}/api/revocations/"
        feed = os.environ.get("REVOCATION_URL", default_feed).strip()
        algorithms = tuple(a.strip() for a in os.environ.get("JWT_ALGORITHMS", ",".join(ASYMMETRIC)).split(","))
        if not algorithms or any(a not in ASYMMETRIC for a in algorithms):
            raise ConfigError(
                f"JWT_ALGORITHMS={','.join(algorithms)!r} is not valid; choose from {', '.join(ASYMMETRIC)}."
            )
        return cls(
            jwks_url=jwks_url,
            revocation_url=None if feed == "off" else _url("REVOCATION_URL", feed),
            port=int(_number("PORT", 8001, minimum=1)),
            issuer=os.environ.get("JWT_ISSUER", "authdemo"),
            audience=os.environ.get("JWT_AUDIENCE", "authdemo-api"),
            algorithms=algorithms,
            cooldown=_number("JWKS_COOLDOWN", 30),
            poll=_number("REVOCATION_POLL", 1, minimum=0.05),
            leeway=_number("JWT_LEEWAY", 10),
            jwks_max_stale=_number("JWKS_MAX_STALE", 600),
            feed_max_stale=(max_stale := _number("REVOCATION_MAX_STALE", 30, minimum=0.1)),
            feed_clock_skew=_number("REVOCATION_CLOCK_SKEW", min(2, max_stale), maximum=max_stale),
            feed_token=_feed_token(),
            timeout=_number("FETCH_TIMEOUT", 2, minimum=0.1),
        )
