"""Existing sessions move to their digests (the schema is accounts.0007's).

- Every live `django_session` row is copied under the SHA-256 of its key into
  accounts.HashedSession and deleted (expired rows are deleted too: they name keys).
- The registry (accounts.UserSession) keeps the digest. Users stay logged in.
- A live Redis session the registry knows is renamed to its digest's key, and a cached_db
  copy under the old key is deleted (it would name a live cookie), through the site's session
  cache for the engine the site runs now (an engine it no longer runs has no cookie that could
  reach its sessions). If that cache cannot be reached the migration fails and, being one
  transaction, changes nothing in the database; run it again once the cache is back (renames
  done before the failure stay done: the registry still names the old key, which the second
  run finds missing and skips, while the session lives on under its digest's key, as the
  first run left it). Anonymous Redis sessions (no registry
  row) are not found by any name: they start afresh; their old keys expire with their TTL and
  a key from a dump of them is hashed on its way in, so it finds nothing.

Going back cannot recover a key from its digest: it deletes the registry rows that name
one, and accounts.0007 going back drops the table, ending every database session.
"""

import hashlib

from django.conf import settings
from django.db import migrations
from django.db.models.functions import Length
from django.utils import timezone

BATCH = 2000
CACHE_PREFIXES = {
    "redis": "django.contrib.sessions.cache",
    "cached_db": "django.contrib.sessions.cached_db",
}  # Django's KEY_PREFIX of each engine; the cache key is the prefix and the key (now its digest)


def stored_key(session_key: str) -> str:
    """accounts.session_engines.keys.stored_key, as of this migration."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def hash_database_sessions(apps, schema_editor):
    """Copy each live django_session row under its digest, then delete the old rows."""
    alias = schema_editor.connection.alias
    old, new = apps.get_model("sessions", "Session"), apps.get_model("accounts", "HashedSession")
    live = old.objects.using(alias).filter(expire_date__gt=timezone.now()).order_by("pk")
    while batch := list(live[:BATCH]):
        new.objects.using(alias).bulk_create(
            [new(session_key=stored_key(s.session_key), session_data=s.session_data, expire_date=s.expire_date)
             for s in batch],
            ignore_conflicts=True,
        )  # fmt: skip
        old.objects.using(alias).filter(pk__in=[s.pk for s in batch]).delete()
    old.objects.using(alias).all().delete()  # the expired ones: they authenticate nobody, but they are keys


def hash_registry(apps, schema_editor):
    """The registry keeps the digest; Redis sessions it knows move to their digest's name."""
    alias = schema_editor.connection.alias
    registry = apps.get_model("accounts", "UserSession")
    # A digest is 64 characters, a key 32 (Django's up to 40): hashed rows are not hashed again,
    # and each batch, once hashed, leaves the query.
    old_keys = (
        registry.objects.using(alias)
        .annotate(length=Length("session_key"))
        .filter(length__gt=0, length__lt=64)
        .values_list("pk", "engine", "session_key")
    )
    while batch := list(old_keys[:BATCH]):
        for pk, engine, key in batch:
            _move_cached(engine, key)
            registry.objects.using(alias).filter(pk=pk).update(session_key=stored_key(key))


def _move_cached(engine: str, key: str) -> None:
    """Rename a Redis session to its digest's key; delete a cached_db copy under the key.

    Only the engine the site runs now has a cache to look in (settings.SESSION_BACKEND): an
    engine the site no longer uses has no cookie that could reach its sessions anyway.
    """
    if engine != getattr(settings, "SESSION_BACKEND", None) or engine not in CACHE_PREFIXES:
        return
    from django.core.cache import caches

    cache, prefix = caches[settings.SESSION_CACHE_ALIAS], CACHE_PREFIXES[engine]
    old, new = prefix + key, prefix + stored_key(key)
    if engine == "redis":
        data, ttl = cache.get(old), cache.ttl(old)  # django-redis: seconds left, None for none
        if data is not None and (ttl is None or ttl > 0):
            cache.set(new, data, ttl)
    cache.delete(old)


def end_hashed_sessions(apps, schema_editor):
    """Going back: no key can be recovered from its digest, so those sessions end."""
    alias = schema_editor.connection.alias
    apps.get_model("accounts", "UserSession").objects.using(alias).exclude(session_key__isnull=True).exclude(
        session_key=""
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_hashed_sessions"), ("sessions", "0001_initial")]

    operations = [
        migrations.RunPython(hash_database_sessions, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(hash_registry, end_hashed_sessions, elidable=False),
    ]
