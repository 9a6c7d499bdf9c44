"""The names the whole project shares: session engines, authentication schemes, benchmark rows.

Settings, models, the /compare/ page, the benchmark, the load test and the tests all spell
these the same way because they all import them from here. This module imports nothing
from Django (nor anything that does), so the harnesses and the chart can use it without
`django.setup()`. It lives in `accounts`, the app every other part already depends on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SessionEngine:
    key: str  # the SESSION_BACKEND value and UserSession.engine
    label: str  # what people read (admin, pages)
    module: str  # the SESSION_ENGINE it selects
    stored_as: str  # where the session lives, in a sentence
    needs_cache: bool  # keeps its data (or a copy) in the shared cache: needs REDIS_URL

    @property
    def revocable(self) -> bool:
        """The server holds the session, so it can end it (a signed cookie it cannot)."""
        return self.key != SIGNED_COOKIES


DB, REDIS, CACHED_DB, SIGNED_COOKIES = "db", "redis", "cached_db", "signed_cookies"

SESSION_ENGINES = (
    SessionEngine(
        DB,
        "Database",
        "accounts.session_engines.db",  # Django's + a key check; copies: copies.postgres_sessions
        "a row in the django_session table",
        False,
    ),
    SessionEngine(
        REDIS,
        "Redis",
        "accounts.session_engines.redis",  # Django's cache store; an outage is a 503
        "a key in Redis, nothing in the database",
        True,
    ),
    SessionEngine(
        CACHED_DB,
        "Cache + database",
        "accounts.session_engines.cached_db",  # Django's; survives a cache outage
        "a row in django_session, with a copy in Redis",
        True,
    ),
    SessionEngine(
        SIGNED_COOKIES,
        "Signed cookie",
        "django.contrib.sessions.backends.signed_cookies",
        "nothing on the server: the data is in your cookie, signed",
        False,
    ),
)
ENGINE_KEYS = tuple(engine.key for engine in SESSION_ENGINES)
REVOCABLE_ENGINE_KEYS = tuple(engine.key for engine in SESSION_ENGINES if engine.revocable)


def session_engine(key: str) -> SessionEngine:
    """The engine called `key`; KeyError for a name that is not one."""
    return {engine.key: engine for engine in SESSION_ENGINES}[key]


class Via:
    """How a request was authenticated: Server-Timing's `desc`, /api/me/'s `authenticated_by`."""

    SESSION = "session"
    JWT_BEARER = "jwt-bearer"
    JWT_COOKIE = "jwt-cookie"
    ANONYMOUS = "anonymous"
    AUTHENTICATED = (SESSION, JWT_BEARER, JWT_COOKIE)


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
PEER_DJANGO_PING, PEER_EXPRESS_JWT = "peer_django_ping", "peer_express_jwt"
PEER_SCHEMES = (
    Scheme(PEER_DJANGO_PING, "bare Django: JSON ping", ""),
    Scheme("peer_django_jwt", "bare Django: JWT stateless (DRF)", ""),
    Scheme("peer_django_session", "bare Django: session on Redis (DRF)", ""),
    Scheme("peer_express_ping", "Express: ping", ""),
    Scheme("peer_express_session", "Express: session on Redis", ""),
    Scheme("peer_express_session_memory", "Express: session in memory", ""),
    Scheme(PEER_EXPRESS_JWT, "Express: JWT, string secret (the example)", ""),
    Scheme("peer_express_jwt_key", "Express: JWT, createSecretKey", ""),
)
PEER_KEYS = tuple(scheme.key for scheme in PEER_SCHEMES)
