"""Secrets at rest: a dump of the session tables, the registry, Redis and the token tables
authenticates nobody.

A thief with a backup or a read-only database role sees what a dump tool sees: the rows and
keys as stored. Each test logs in through the site, dumps everything a stolen backup would
hold, and looks for the cookie's key (and the tokens) in it; then it restores the dumped
session into a fresh store, as the thief would on a machine of their own, and replays every
key the dump names as a session cookie: refused. The cookie's own key, replayed against the
same restored store, still works: the restore is faithful, so the refusal is the hashing's.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import HashedSession, UserSession
from accounts.session_engines.keys import stored_key
from accounts.vocabulary import CACHED_DB, DB, REDIS
from bench import secrets_cost
from tests.support import client_logged_in_as

pytestmark = [pytest.mark.redis]

SESSION_CACHE_PREFIXES = ("django.contrib.sessions.cache", "django.contrib.sessions.cached_db")
TOKEN_TABLES = ("token_blacklist_outstandingtoken", "token_blacklist_blacklistedtoken", "accounts_tokenfamily")


def session_table() -> str:
    """The table the configured engine keeps its rows in (None for Redis sessions)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store.get_model_class()._meta.db_table if hasattr(store, "get_model_class") else None


def dump_tables(names) -> list[tuple]:
    """Every row of the tables `names`, as `SELECT *` gives them to a dump tool."""
    rows = []
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(name)}")  # noqa: S608  (table names)
            rows.extend(cursor.fetchall())
    return rows


def session_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if "session" in name]


def redis_client():
    return caches["default"].client.get_client(write=True)


def dump_redis() -> dict[bytes, tuple[bytes, int]]:
    """This test's Redis keys, each with its DUMP payload and milliseconds to live."""
    client = redis_client()
    pattern = f"{settings.CACHES['default']['KEY_PREFIX']}:*"
    return {key: (client.dump(key), client.pttl(key)) for key in client.scan_iter(pattern)}


def dumped_text() -> str:
    rows = dump_tables(session_tables() + list(TOKEN_TABLES))
    redis_dump = dump_redis() if _uses_redis() else {}
    return repr(rows) + repr(redis_dump)


def _uses_redis() -> bool:
    return settings.CACHES["default"]["BACKEND"].startswith(("django_redis", "copies"))


def keys_named_in_the_dump() -> set[str]:
    """Everything the dump offers as a session key: the session table's and the registry's key
    columns, and the session part of the Redis keys."""
    named = set()
    table = session_table()
    if table:
        named |= {row[0] for row in dump_tables([table])}
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_key FROM accounts_usersession WHERE session_key IS NOT NULL")
        named |= {row[0] for row in cursor.fetchall()}
    if _uses_redis():
        for key in dump_redis():
            text = key.decode()
            for prefix in SESSION_CACHE_PREFIXES:
                if prefix in text:
                    named.add(text.split(prefix, 1)[1])
    return named


def restore_into_a_fresh_store(dumped_rows: list[tuple], dumped_redis: dict) -> None:
    """Empty the session store, then put back exactly what was dumped, as a thief's copy."""
    table = session_table()
    if table:
        quoted = connection.ops.quote_name(table)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {quoted}")  # noqa: S608
            for row in dumped_rows:
                marks = ", ".join(["%s"] * len(row))
                cursor.execute(f"INSERT INTO {quoted} VALUES ({marks})", row)  # noqa: S608
    if dumped_redis:
        client = redis_client()
        client.delete(*dumped_redis)
        for key, (payload, ttl) in dumped_redis.items():
            client.restore(key, max(ttl, 0), payload)


def logged_in(cookie_name: str, key: str) -> bool:
    """Whether a browser sending session cookie `key` (and nothing else) is logged in."""
    browser = Client()
    browser.cookies[cookie_name] = key
    return browser.get("/accounts/profile/").status_code == 200


@pytest.fixture(params=[DB, CACHED_DB, REDIS, pytest.param("postgres_copies", marks=pytest.mark.postgres)])
def stored_engine(request, use_engine, settings):
    """Each engine that keeps sessions on the server; copies.postgres_sessions on PostgreSQL
    (marked `postgres`: the SQLite pass deselects it, and elsewhere it needs PostgreSQL)."""
    if request.param != "postgres_copies":
        return use_engine(request.param)
    request.getfixturevalue("postgres")
    use_engine(DB)
    settings.SESSION_ENGINE = "copies.postgres_sessions"
    return request.param


def test_a_dump_never_holds_the_session_cookie(client, alice, login, stored_engine):
    login(alice)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert logged_in(settings.SESSION_COOKIE_NAME, key)
    assert key not in dumped_text()


def test_a_dumped_session_restored_and_replayed_is_refused(client, alice, login, stored_engine):
    login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    table = session_table()
    dumped_rows = dump_tables([table]) if table else []
    dumped_redis = dump_redis() if _uses_redis() else {}
    named = keys_named_in_the_dump()
    assert named, "the dump names the session somehow"
    restore_into_a_fresh_store(dumped_rows, dumped_redis)
    for key in named:
        assert not logged_in(settings.SESSION_COOKIE_NAME, key), key
    assert logged_in(settings.SESSION_COOKIE_NAME, cookie)  # the restored store is the real one


def test_token_tables_record_refresh_tokens_by_jti_only(client, alice, api_login):
    """SimpleJWT's OutstandingToken has a `token` column; the project leaves it empty."""
    pair = api_login(alice)
    refreshed = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert refreshed.status_code == 200
    client.post("/api/token/blacklist/", {"refresh": refreshed.json()["refresh"]}, content_type="application/json")
    dump = repr(dump_tables(TOKEN_TABLES))
    for token in (pair["refresh"], pair["access"], refreshed.json()["refresh"], refreshed.json()["access"]):
        assert token not in dump
        assert token.rsplit(".", 1)[1] not in dump  # not even the signature
    assert set(OutstandingToken.objects.values_list("token", flat=True)) == {""}


@pytest.mark.parametrize(("engine", "queries"), [(DB, 1), (CACHED_DB, 0), (REDIS, 0)])
def test_a_session_request_makes_no_extra_query(alice, use_engine, django_assert_num_queries, engine, queries):
    """The digest is computed, not looked up: the session row (db) or nothing (caches), as before."""
    use_engine(engine)
    browser = client_logged_in_as(alice)
    browser.get("/")  # cached_db caches the session on its first read
    with django_assert_num_queries(queries):
        assert b"Alice" in browser.get("/").content


def test_hashing_a_session_key_costs_at_most_5_microseconds():
    assert secrets_cost.measure() <= secrets_cost.BUDGET_US


# -- the migrations (accounts.0007, 0008) ---------------------------------------------------------

BEFORE, AFTER = ("accounts", "0006_session_change_notifications"), ("accounts", "0008_hash_stored_session_keys")
RAW_PREFIX = {DB: None, CACHED_DB: "django.contrib.sessions.cached_db", REDIS: "django.contrib.sessions.cache"}


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def as_before_the_migration(engine: str, cookie: str, data: str | dict, expiry, registry: dict) -> None:
    """Go back to accounts.0006 and store the session as the site did then: under its key."""
    migrate(BEFORE)
    apps = MigrationExecutor(connection).loader.project_state([BEFORE]).apps
    if engine != REDIS:
        apps.get_model("sessions", "Session").objects.create(session_key=cookie, session_data=data, expire_date=expiry)
    if RAW_PREFIX[engine]:
        caches[settings.SESSION_CACHE_ALIAS].set(RAW_PREFIX[engine] + cookie, data, 3600)
    apps.get_model("accounts", "UserSession").objects.create(**{**registry, "session_key": cookie})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("engine", [DB, CACHED_DB, REDIS])
def test_a_session_from_before_the_migration_survives_it_hashed(client, alice, login, use_engine, engine):
    use_engine(engine)
    login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    registry = UserSession.objects.values().get()
    store = import_module(settings.SESSION_ENGINE).SessionStore(cookie)
    if engine == REDIS:
        data, expiry = store.load(), None
        caches[settings.SESSION_CACHE_ALIAS].delete(store.cache_key)
    else:
        row = HashedSession.objects.get(session_key=stored_key(cookie))
        data, expiry = (store.load() if engine == CACHED_DB else row.session_data), row.expire_date
    as_before_the_migration(engine, cookie, data, expiry, registry)
    assert cookie in dumped_text()  # as a dump before the migration would hold it
    migrate(AFTER)
    assert logged_in(settings.SESSION_COOKIE_NAME, cookie)
    assert UserSession.objects.get().session_key == stored_key(cookie)
    assert cookie not in dumped_text()
