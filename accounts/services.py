"""Writes: the session registry, API login families, revocation and the audit log.

Every way of ending a login goes through here, so a session, a refresh token and an
access token are ended the same way whether a user, an admin or a password change asks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import caches
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connections, router, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import vocabulary
from accounts.authentication import CREATED_KEY, REGISTRY_KEY, SEEN_KEY, SNAPSHOT_FIELDS, SNAPSHOT_KEY
from accounts.http import CACHE_ERRORS, client_ip, user_agent
from accounts.models import AccessCutoff, AuditEvent, TokenFamily, User, UserSession
from accounts.replication import replicated
from accounts.selectors import CUTOFF_CACHE_TIMEOUT, cutoff_cache_key
from accounts.session_engines.keys import stored_key


def record_event(
    *,
    kind: str,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | None = None,
    username: str = "",
    actor: AbstractBaseUser | None = None,
    **detail: object,
) -> AuditEvent:
    """Append one event to the audit log. Never store a credential in `detail`."""
    return AuditEvent.objects.create(
        kind=kind,
        at=timezone.now(),
        user=user if user is not None and user.pk else None,
        username=(username or getattr(user, "username", "") or "")[:150],
        actor=actor if actor is not None and actor.is_authenticated else None,
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail=detail,
    )


def record_session(*, request: HttpRequest, user: AbstractBaseUser) -> UserSession:
    """Register the session that `login()` just created for `user`, under its stored key
    (the SHA-256 of the cookie's key, as the engine keeps it): the registry names no cookie."""
    now = timezone.now()
    engine = settings.SESSION_BACKEND
    held = vocabulary.session_engine(engine).revocable  # the server holds the session under its key
    stored = stored_key(request.session.session_key) if held else None
    if held:  # logging in again as the same user keeps the key
        UserSession.objects.filter(session_key=stored).delete()
    entry = UserSession.objects.create(
        user=user,
        session_key=stored,
        engine=engine,
        created_at=now,
        last_seen=now,
        expires_at=request.session.get_expiry_date(),
        ip=client_ip(request),
        user_agent=user_agent(request),
    )
    request.session[REGISTRY_KEY] = str(entry.pk)
    request.session[SEEN_KEY] = int(now.timestamp())
    request.session[CREATED_KEY] = now.timestamp()  # the profile page shows it without a query
    request.session[SNAPSHOT_KEY] = {field: getattr(user, field) for field in SNAPSHOT_FIELDS}
    return entry


def touch_session(*, request: HttpRequest) -> None:
    """Move the session's last-seen time forward, at most once per SESSION_TOUCH_INTERVAL."""
    registry_id = request.session.get(REGISTRY_KEY)
    now = timezone.now()
    if registry_id is None or now.timestamp() - request.session.get(SEEN_KEY, 0) < settings.SESSION_TOUCH_INTERVAL:
        return
    UserSession.objects.filter(pk=registry_id).update(last_seen=now, expires_at=request.session.get_expiry_date())
    request.session[SEEN_KEY] = int(now.timestamp())


def forget_session(*, request: HttpRequest) -> None:
    """Drop the registry row of a session that is being logged out."""
    registry_id = request.session.get(REGISTRY_KEY)
    if registry_id:
        UserSession.objects.filter(pk=registry_id).delete()


def revoke_session(*, session: UserSession, actor: AbstractBaseUser | None, request: HttpRequest | None) -> bool:
    """End one session through the engine that stores it; False if the server cannot.

    The engine's own `delete_stored()` is the only correct way: deleting a session row would
    leave `cached_db`'s cached copy alive, and Redis sessions have no row at all.
    """
    if not session.revocable:
        return False
    _end_through_engine([session], request=request)
    record_event(
        kind=AuditEvent.Kind.SESSION_REVOKED, request=request, user=session.user, actor=actor, engine=session.engine
    )
    return True


def revoke_family(*, family: TokenFamily, reason: str, actor: AbstractBaseUser | None, request: HttpRequest | None):
    """End one API login: blacklist its live refresh token and mark the family revoked."""
    with transaction.atomic():
        updated = TokenFamily.objects.filter(pk=family.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=reason
        )
        _blacklist(OutstandingToken.objects.filter(jti=family.current_jti))
    if updated:
        record_event(kind=AuditEvent.Kind.FAMILY_REVOKED, request=request, user=family.user, actor=actor, reason=reason)


def revoke_everything(
    *,
    user: User,
    reason: str,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    keep_current_session: bool = False,
) -> None:
    """Log `user` out everywhere: sessions, refresh tokens, and live access tokens; all or nothing.

    Every outstanding refresh token is blacklisted (each login's newest: `_newest_tokens`); the
    access-token cut-off moves forward (a version: `advance_cutoff`), so with JWT_REVOCATION=cutoff
    even access tokens that have not expired stop working at once, however the clocks of the
    instances that issued them differ; sessions end through their engine. `keep_current_session`
    spares the session making the request (password change keeps the user logged in there).

    The database is the source of truth and everything in it commits in one transaction, with
    the credential change that asked for it where there is one (`User.save`, the delete
    collector). The stores outside the transaction are written last, in the order that leaves
    a failure on the safe side: Redis sessions are deleted (a deletion that stays after a
    rollback only logs out more), then the cut-off is published to the cache every process
    reads. If any store cannot take its write (Redis down, or no replica acknowledged it), the
    error propagates, the database rolls back (a password stays as it was) and the cut-off is
    taken back out of the cache, so no store is left holding a newer answer than the database; so
    it is if PostgreSQL fails after the cache took it (at the audit event or the commit). Called
    inside a transaction of the caller's, a failure of that one's commit is the caller's to handle.
    """
    keep = request.session.get(REGISTRY_KEY) if keep_current_session and request is not None else None
    try:
        with transaction.atomic():
            try:
                revoked = timezone.now()
                families = TokenFamily.objects.filter(user=user, revoked_at__isnull=True)
                families.update(revoked_at=revoked, revoked_reason=reason)
                _blacklist(_newest_tokens(user=user, now=revoked))
                # After the families are locked: a refresh that won before us read the older version
                # into its access token, so this cut-off covers it, whatever the clocks say.
                cutoff = advance_cutoff(user_id=user.pk)
                _publish_to_feed(user_id=user.pk, cutoff=cutoff)
                sessions = UserSession.objects.filter(user=user).exclude(pk=keep)
                _end_through_engine([session for session in sessions if session.revocable], request=request)
                set_cutoff_cache(user_id=user.pk, cutoff=cutoff)
                record_event(
                    kind=AuditEvent.Kind.EVERYTHING_REVOKED, request=request, user=user, actor=actor, reason=reason
                )
            except BaseException:
                _forget_cutoff_cache(user_id=user.pk)  # before the rollback: the user row is still locked
                raise
    except DatabaseError:  # the commit failed (PostgreSQL gone after the cache took the cut-off)
        _forget_cutoff_cache(user_id=user.pk)
        raise
    user.tokens_valid_after = cutoff


def advance_cutoff(*, user_id: int) -> datetime:
    """Move the user's access-token cut-off strictly forward and return it (inside a transaction).

    The cut-off is a version, not a time: a token carries the one it was issued under
    (api.tokens) and is void once the stored one is newer. So it must grow on every revocation
    whatever this process's clock says: the larger of now and the old value plus 1 µs, in the
    UPDATE itself, so that concurrent revocations by instances whose clocks differ (the row is
    locked by the first) still each make it newer. Read back in the same transaction.
    """
    now, step = timezone.now(), timedelta(microseconds=1)
    rows = User.objects.filter(pk=user_id)
    rows.update(tokens_valid_after=Greatest(Value(now), Coalesce(F("tokens_valid_after") + step, Value(now))))
    return rows.values_list("tokens_valid_after", flat=True).get()


def set_cutoff_cache(*, user_id: int, cutoff: datetime | None) -> None:
    """Publish a user's access-token cut-off to every process that reads the cache (and to a
    replica before it counts, where one is configured: a failover must not restore an old one)."""
    key = cutoff_cache_key(user_id)
    backend = caches["default"]  # the backend itself, not the `cache` proxy: replicated() checks its type
    with replicated(backend) as target:
        backend.set(key, cutoff.timestamp() if cutoff else 0, CUTOFF_CACHE_TIMEOUT, **target)


def _forget_cutoff_cache(*, user_id: int) -> None:
    """Take a cut-off that is being rolled back out of the cache, so that readers go to the
    database (accounts.selectors.get_access_cutoff). Best effort: if the cache cannot take this
    either, it cannot have taken the cut-off (or took it without a replica, which a failover
    drops); a cut-off left newer than the database only ends this user's tokens early."""
    backend = caches["default"]
    try:
        backend.delete(cutoff_cache_key(user_id))
    except CACHE_ERRORS:
        return


def _end_through_engine(sessions: list[UserSession], *, request: HttpRequest | None) -> None:
    """Delete each session in its store, by the stored key the registry keeps, then their
    registry rows (one DELETE for all of them: no work per row beyond the store's own).

    If one is the session of the request doing the revoking, that request's session is
    flushed too, so the response logs this browser out instead of writing it back.
    """
    for session in sessions:
        import_module(_engine_module(session.engine)).SessionStore.delete_stored(session.session_key)
    if sessions:
        UserSession.objects.filter(pk__in=[session.pk for session in sessions]).delete()
    own = getattr(request, "session", None)
    if own is not None and own.session_key and stored_key(own.session_key) in {s.session_key for s in sessions}:
        own.flush()


def _publish_to_feed(*, user_id: int, cutoff: datetime) -> None:
    """Insert or move the user's row of the revocation feed (api.wellknown): one upsert
    statement, where update_or_create takes a savepoint, a SELECT FOR UPDATE and a write."""
    row = AccessCutoff(user_id=user_id, at=cutoff)
    AccessCutoff.objects.bulk_create([row], update_conflicts=True, unique_fields=["user_id"], update_fields=["at"])


def _engine_module(engine: str) -> str:
    """The store a session of `engine` lives in: the configured one for this site's engine (it may
    add components, such as copies.postgres_sessions, that must hear of the delete at once)."""
    if engine == settings.SESSION_BACKEND:
        return settings.SESSION_ENGINE
    return vocabulary.session_engine(engine).module


def _newest_tokens(*, user: User, now: datetime):
    """The outstanding refresh tokens of `user` that may not be blacklisted yet: the newest of each
    API login (family), unexpired. Every older one was blacklisted when a refresh rotated it away, in
    that refresh's transaction, so these are all that is left to blacklist; a cost in the user's
    logins, where their every token since the last prune (thousands for a client that refreshes
    often) cost a probe each."""
    newest = TokenFamily.objects.filter(user=user).values("current_jti")
    return OutstandingToken.objects.filter(jti__in=newest, expires_at__gt=now)


def _blacklist(tokens) -> None:
    """Blacklist those of the outstanding `tokens` (a queryset) not blacklisted yet.

    One `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (PostgreSQL and SQLite both write it; the ORM
    does not), the SELECT being the queryset's own: the database finds the tokens and skips those
    its unique index on token_id already holds, one probe each, so the cost is the tokens given,
    not the blacklist's size. Reading the ones not blacklisted first, by a join, let PostgreSQL's
    planner hash the whole blacklist (36 ms for a user's 2,720 tokens beside 100,000 entries, and
    growing with the table); and nothing is built in Python per token. It runs on the database
    Django writes blacklist entries to, inside the caller's transaction there.
    """
    alias = router.db_for_write(BlacklistedToken)
    rows = tokens.order_by().annotate(at=Value(timezone.now())).values_list("pk", "at")
    try:
        select, params = rows.query.get_compiler(using=alias).as_sql()
    except EmptyResultSet:  # filtered on an empty list: no token to blacklist
        return
    connection = connections[alias]
    quote, meta = connection.ops.quote_name, BlacklistedToken._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ("token", "blacklisted_at"))
    # "WHERE true" on a SELECT of its own: SQLite would take the ON CONFLICT of a SELECT without a
    # WHERE (an unfiltered queryset) for a join's ON. Names are quoted, values are parameters.
    table, key = quote(meta.db_table), quote(meta.get_field("token").column)
    insert = f"INSERT INTO {table} ({columns}) SELECT * FROM ({select}) AS tokens WHERE true"  # noqa: S608
    insert += f" ON CONFLICT ({key}) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(insert, params)


def end_logins_if_any(*, user: User, reason: str) -> None:
    """Log `user` out everywhere if anything of theirs may still be live; else do nothing.

    Called when a password is set, a user is deactivated or deleted, wherever that
    happens (a page, the admin, a shell). A session or an API login used within one
    access-token lifetime may still be live; older ones have nothing left to end.
    """
    recent = timezone.now() - settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] - timedelta(minutes=1)
    live = (
        UserSession.objects.filter(user=user).exists()
        or TokenFamily.objects.filter(user=user, last_used_at__gte=recent).exists()
        or TokenFamily.objects.filter(user=user, revoked_at__isnull=True).exists()
    )
    if live:
        revoke_everything(user=user, reason=reason)


def revoke_other_sessions(*, request: HttpRequest) -> int:
    """End every session of the requesting user except this one; return how many ended."""
    current = request.session.get(REGISTRY_KEY)
    ended = 0
    for session in UserSession.objects.filter(user=request.user).exclude(pk=current).select_related("user"):
        ended += revoke_session(session=session, actor=request.user, request=request)
    return ended


def password_changed(*, request: HttpRequest, user: User) -> None:
    """Register the session that survives a password change made on its own page.

    Setting the password already ended every login of the user (the post_save receiver
    calls `end_logins_if_any`); Django's `update_session_auth_hash` then saved this
    session under a new key, which is registered here.
    """
    record_event(kind=AuditEvent.Kind.PASSWORD_CHANGED, request=request, user=user)
    record_session(request=request, user=user)


def password_reset(*, request: HttpRequest, user: User) -> None:
    """Audit a password set from a reset link.

    Setting it already ended every login of the user (the post_save receiver calls
    `end_logins_if_any`, which uses `revoke_everything`); no session is kept.
    """
    record_event(kind=AuditEvent.Kind.PASSWORD_CHANGED, request=request, user=user, via="reset")


def blacklist_tokens(*, tokens, actor: AbstractBaseUser | None, request: HttpRequest | None) -> int:
    """Blacklist the given outstanding refresh tokens and revoke the logins they are live in."""
    jtis = list(tokens.values_list("jti", flat=True))
    for family in TokenFamily.objects.filter(current_jti__in=jtis, revoked_at__isnull=True).select_related("user"):
        revoke_family(family=family, reason="admin", actor=actor, request=request)
    with transaction.atomic():
        _blacklist(OutstandingToken.objects.filter(jti__in=jtis))
    record_event(kind=AuditEvent.Kind.TOKEN_BLACKLISTED, request=request, actor=actor, count=len(jtis))
    return len(jtis)
