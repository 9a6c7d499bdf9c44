"""The rows of the comparison: what the benchmark measures and /compare/ shows, by key.

`make bench` writes its results under these keys and the /compare/ page and its chart read
them back, so both take them from here. The site owns the names (the benchmark is tooling
that imports the site, never the other way round). Like accounts.vocabulary, this module
imports nothing from Django, so the benchmark can draw the chart without `django.setup()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.vocabulary import DB, ENGINE_KEYS, REDIS, Via


@dataclass(frozen=True)
class Scheme:
    """One row of the comparison (bench results, /compare/'s table and chart)."""

    key: str
    label: str
    via: str  # the Via that must have authenticated its requests


def session_scheme_key(engine: str) -> str:
    """The comparison row of sessions on `engine` (`session_redis`)."""
    return f"session_{engine}"


BASELINE = "healthz"
SESSION_DB, SESSION_REDIS = session_scheme_key(DB), session_scheme_key(REDIS)
JWT_STATELESS, JWT_DB_USER, JWT_CUTOFF, JWT_COOKIE = "jwt_stateless", "jwt_db_user", "jwt_cutoff", "jwt_cookie"
VERIFIER = "verifier"  # the separate token verifier (verifier/): a scheme of `make drill`'s table, not the benchmark's
PAGE_PROFILE = "page_profile"
PAGE_PROFILE_REDIS = "page_profile_redis"
SCHEMES = (
    Scheme(BASELINE, "/healthz (no auth)", Via.ANONYMOUS),
    *(Scheme(session_scheme_key(key), f"session: {key}", Via.SESSION) for key in ENGINE_KEYS),
    Scheme(JWT_STATELESS, "JWT: stateless", Via.JWT_BEARER),
    Scheme(JWT_DB_USER, "JWT: user from database", Via.JWT_BEARER),
    Scheme(JWT_CUTOFF, "JWT: cut-off check", Via.JWT_BEARER),
    Scheme(JWT_COOKIE, "JWT: in a cookie", Via.JWT_COOKIE),
    Scheme(PAGE_PROFILE, "page: /accounts/profile/ (session: db)", Via.SESSION),
    Scheme(PAGE_PROFILE_REDIS, "page: /accounts/profile/ (session: redis)", Via.SESSION),
)
SCHEME_KEYS = tuple(scheme.key for scheme in SCHEMES)  # display order

# The peers measured beside authdemo (bench/peers/README.md); they send no Server-Timing.
PEER_DJANGO_PING, PEER_EXPRESS_JWT, PEER_FASTAPI_JWT = "peer_django_ping", "peer_express_jwt", "peer_fastapi_jwt"
PEER_SCHEMES = (
    Scheme(PEER_DJANGO_PING, "bare Django: JSON ping", ""),
    Scheme("peer_django_jwt", "bare Django: JWT stateless (DRF)", ""),
    Scheme("peer_django_session", "bare Django: session on Redis (DRF)", ""),
    Scheme("peer_fastapi_ping", "FastAPI: ping", ""),
    Scheme(PEER_FASTAPI_JWT, "FastAPI: JWT stateless (HTTPBearer, PyJWT)", ""),
    Scheme("peer_fastapi_session", "FastAPI: session on Redis (redis.asyncio)", ""),
    Scheme("peer_express_ping", "Express: ping", ""),
    Scheme("peer_express_session", "Express: session on Redis", ""),
    Scheme("peer_express_session_memory", "Express: session in memory", ""),
    Scheme(PEER_EXPRESS_JWT, "Express: JWT, string secret (the example)", ""),
    Scheme("peer_express_jwt_key", "Express: JWT, createSecretKey", ""),
)
PEER_KEYS = tuple(scheme.key for scheme in PEER_SCHEMES)
