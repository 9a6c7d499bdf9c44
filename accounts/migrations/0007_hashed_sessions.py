"""Sessions stored under the SHA-256 of their keys: a dump of a table authenticates nobody.

- accounts.HashedSession: the database sessions (db, cached_db), keyed by the hex SHA-256 of
  the cookie's key in a 64-character column (Django's `django_session` keeps the key itself,
  in 40 characters).
- On PostgreSQL, the triggers of accounts.0006 move from `django_session` to the new table,
  with the same names; the payload is now the row's key as it is (it already is the digest).
- The data: every live `django_session` row is copied under the digest of its key and
  deleted; the registry (accounts.UserSession) keeps the digest. Users stay logged in. A
  live Redis session the registry knows is renamed to its digest's key; a cached_db copy
  under the old key is deleted (it would name a live cookie). Both through the site's
  session cache: if it cannot be reached the migration fails and, being one transaction,
  changes nothing; run it again once the cache is back. Anonymous Redis sessions (no
  registry row) are not found by any name: they start afresh.

Going back cannot recover a key from its digest: it ends every database session and
deletes the registry rows that name one.
"""

import hashlib

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Length
from django.utils import timezone

BATCH = 2000
CACHE_PREFIXES = {
    "redis": "django.contrib.sessions.cache",
    "cached_db": "django.contrib.sessions.cached_db",
}  # Django's KEY_PREFIX of each engine; the cache key is the prefix and the key (now its digest)
MANY = 100  # as accounts.0006
NOTIFY = """
CREATE OR REPLACE FUNCTION authdemo_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- no transition table: ask nothing of it
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSIF (SELECT count(*) FROM changed) > {many} THEN
        PERFORM pg_notify('authdemo_session_changed', '*');
    ELSE
        PERFORM pg_notify('authdemo_session_changed', {payload}) FROM changed;
    END IF;
    RETURN NULL;
END
$$;
"""
TRIGGERS = """
CREATE TRIGGER authdemo_sessions_updated AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
CREATE TRIGGER authdemo_sessions_truncated AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION authdemo_sessions_changed();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS authdemo_sessions_truncated ON {table};
DROP TRIGGER IF EXISTS authdemo_sessions_deleted ON {table};
DROP TRIGGER IF EXISTS authdemo_sessions_updated ON {table};
"""
OLD_PAYLOAD = "encode(sha256(convert_to(session_key, 'UTF8')), 'hex')"  # accounts.0006
FORWARD = (
    DROP_TRIGGERS.format(table="django_session")
    + NOTIFY.format(many=MANY, payload="session_key")
    + TRIGGERS.format(table="accounts_hashedsession")
)
BACKWARD = (
    DROP_TRIGGERS.format(table="accounts_hashedsession")
    + NOTIFY.format(many=MANY, payload=OLD_PAYLOAD)
    + TRIGGERS.format(table="django_session")
)


def stored_key(session_key: str) -> str:
    """accounts.session_engines.keys.stored_key, as of this migration."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


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
    dependencies = [("accounts", "0006_session_change_notifications"), ("sessions", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="HashedSession",
            fields=[
                (
                    "session_key",
                    models.CharField(max_length=64, primary_key=True, serialize=False, verbose_name="session key hash"),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
            ],
            options={"verbose_name": "stored session"},
            bases=(models.Model,),
        ),  # fmt: skip
        migrations.AlterField(
            model_name="usersession",
            name="session_key",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False),
        migrations.RunPython(hash_database_sessions, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(hash_registry, end_hashed_sessions, elidable=False),
    ]
