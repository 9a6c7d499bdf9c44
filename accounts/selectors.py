"""Queries: who is logged in where, the access-token cut-off, the audit trail."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts import vocabulary
from accounts.authentication import current_registry_id, session_created_at
from accounts.http import CACHE_ERRORS
from accounts.models import AccessCutoff, AuditEvent, TokenFamily, User, UserSession

CUTOFF_CACHE_TIMEOUT = 60 * 60 * 24
CUTOFF_KEY_PREFIX = "jwt-cutoff:"  # a COPY_PREFIXES entry of the site's cache (settings.py)


def cutoff_cache_key(user_id: object) -> str:
    return f"{CUTOFF_KEY_PREFIX}{user_id}"


def get_access_cutoff(*, user_id: object) -> float:
    """Return the user's access-token cut-off, a version (0: none; infinite: the user is gone).

    One cache read (served from this process's copy where the cache keeps one:
    copies.redis_cache); the database is read only on a cache miss or a cache outage, and the
    answer is written back so that every process sharing the cache sees the same cut-off.
    """
    backend = caches["default"]  # the backend itself: django.core.cache.cache is a proxy
    if isinstance(backend, LocMemCache):
        return _cutoff_from_database(user_id)  # a per-process cache would miss other processes' revocations
    key = cutoff_cache_key(user_id)
    try:
        cutoff = backend.get(key)
    except CACHE_ERRORS:  # the cache is down: the database still knows, so fail safe, not open
        return _cutoff_from_database(user_id)
    if cutoff is None:
        cutoff = _cutoff_from_database(user_id)
        cache.add(key, cutoff, CUTOFF_CACHE_TIMEOUT)  # add: never overwrite a newer revocation
    return cutoff


def _cutoff_from_database(user_id: object) -> float:
    row = User.objects.filter(pk=user_id).values_list("tokens_valid_after", flat=True)
    if not row:
        return math.inf  # the user is gone: every token of theirs is void
    return row[0].timestamp() if row[0] else 0


def list_active_sessions(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user, expires_at__gt=timezone.now()).order_by("-last_seen")


def list_active_families(*, user: User) -> QuerySet[TokenFamily]:
    return TokenFamily.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).order_by(
        "-last_used_at"
    )


def list_recent_events(*, user: User, limit: int = 20) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(user=user).select_related("actor")[:limit]


def get_user_summary(*, user_id: object) -> dict | None:
    """Return the public fields of an active user, or None if there is no such user."""
    return User.objects.filter(pk=user_id, is_active=True).values("id", "username", "display_name").first()


def find_own_session(*, user: User, registry_id: object) -> UserSession | None:
    return UserSession.objects.select_related("user").filter(pk=registry_id, user=user).first()


def find_own_family(*, user: User, family_id: object) -> TokenFamily | None:
    return TokenFamily.objects.select_related("user").filter(pk=family_id, user=user, revoked_at__isnull=True).first()


def describe_session(*, request: HttpRequest) -> dict:
    """What the server keeps for this session; a key prefix only, never the whole key.

    The prefix is the cookie's key's (what the user can find in the browser), not the stored
    SHA-256's: eight of its 32 characters leave about 124 bits unknown.
    """
    session = request.session
    key = session.session_key if vocabulary.session_engine(settings.SESSION_BACKEND).revocable else None
    created_at = session_created_at(request=request)
    if created_at is None:  # a session from before the login time was kept in it
        entry = UserSession.objects.filter(pk=current_registry_id(request=request)).first()
        created_at = entry.created_at if entry else None
    return {
        "engine": settings.SESSION_BACKEND,
        "engine_path": settings.SESSION_ENGINE,
        "key_prefix": f"{key[:8]}…" if key else None,
        "created_at": created_at,
        "expires_at": session.get_expiry_date(),
        "at_browser_close": session.get_expire_at_browser_close(),
        "data_keys": sorted(session.keys()),
    }


def cutoff_window() -> timedelta:
    """How long a cut-off can matter: the access-token lifetime plus the leeway a verifier allows
    past `exp`, plus the leeway again for clocks that differ (a token issued just before the
    revocation by an instance whose clock runs ahead of the revoker's expires that much later)."""
    jwt_settings = settings.SIMPLE_JWT
    return jwt_settings["ACCESS_TOKEN_LIFETIME"] + 2 * timedelta(seconds=jwt_settings["LEEWAY"])


def list_recent_cutoffs(*, since: datetime, limit: int | None = None) -> dict[int, float]:
    """Return {user id: cut-off} of every access-token cut-off set after `since`
    (only the `limit` newest when given), deleted users' included (AccessCutoff outlives the
    user row; indexed on `at`)."""
    rows = AccessCutoff.objects.filter(at__gt=since).order_by("-at").values_list("user_id", "at")[:limit]
    return {user_id: at.timestamp() for user_id, at in rows}
