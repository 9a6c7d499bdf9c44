"""The names the whole project shares: session engines and how a request was authenticated.

Settings, models, the /compare/ page, the benchmark, the load test and the tests all spell
these the same way because they all import them from here. This module imports nothing
from Django (nor anything that does), so the harnesses and the chart can use it without
`django.setup()`. It lives in `accounts`, the app every other part already depends on.
The comparison's rows (the schemes the benchmark measures) are in authdemo.measured.
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
        "a row in the database, under the SHA-256 of its key",
        False,
    ),
    SessionEngine(
        REDIS,
        "Redis",
        "accounts.session_engines.redis",  # Django's cache store; an outage is a 503
        "a key in Redis (the SHA-256 of the session key), nothing in the database",
        True,
    ),
    SessionEngine(
        CACHED_DB,
        "Cache + database",
        "accounts.session_engines.cached_db",  # Django's; survives a cache outage
        "a row in the database, with a copy in Redis, both under the SHA-256 of its key",
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
