"""The benchmark's fills store sessions where the engines read them: accounts_hashedsession,
the registry and Redis, each under stored_key(key), never the key."""

import json
import subprocess
import sys

import psycopg
import pytest

from accounts.session_engines.keys import stored_key
from accounts.vocabulary import CACHED_DB, DB, REDIS
from bench import admin_scale, scale
from harness.stack import PG_ADMIN_URL, ROOT, Stores, base_env, manage, recreate_database

ROWS = 50
SCALE_STORES = Stores("authdemo_bench_fill_scale", 14)
ADMIN_STORES = Stores("authdemo_bench_fill_admin", 14)

# Runs in CI's PostgreSQL pass; the SQLite pass deselects `postgres` tests (.ci/run).
pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture(scope="module")
def migrated(harness_stores):
    """Two migrated databases of the harness's own: one per fill (both fill users from id 1)."""
    recreate_database(SCALE_STORES)
    manage(base_env(SCALE_STORES), "migrate", "--no-input")
    recreate_database(ADMIN_STORES, flush_redis=False)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:  # a copy: one migration, not two
        conn.execute(f'DROP DATABASE "{ADMIN_STORES.database}"')
        conn.execute(f'CREATE DATABASE "{ADMIN_STORES.database}" TEMPLATE "{SCALE_STORES.database}"')
    yield
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for stores in (SCALE_STORES, ADMIN_STORES):
            conn.execute(f'DROP DATABASE IF EXISTS "{stores.database}" WITH (FORCE)')
    SCALE_STORES.redis().flushdb()  # db 14: this test's own


@pytest.fixture(scope="module")
def scale_filled(migrated) -> Stores:
    scale.fill(SCALE_STORES, rows=ROWS)
    return SCALE_STORES


@pytest.fixture(scope="module")
def admin_filled(migrated) -> Stores:
    admin_scale.fill(ADMIN_STORES, rows=ROWS, hashed_password="!")
    return ADMIN_STORES


def rows(stores: Stores, sql: str) -> list[tuple]:
    with psycopg.connect(stores.database_url) as conn:
        return conn.execute(sql).fetchall()


def through_engine(stores: Stores, engine: str, key: str) -> dict:
    """Ask the site's configured engine (in a process on `stores`) about the session `key`."""
    code = (
        "import json; from importlib import import_module; from django.conf import settings; "
        f"store = import_module(settings.SESSION_ENGINE).SessionStore({key!r}); "
        f"print(json.dumps({{'exists': store.exists({key!r}), 'data': store.load()}}))"
    )
    env = base_env(stores) | {"SESSION_BACKEND": engine}
    done = subprocess.run(  # noqa: S603  (our own manage.py, no shell)
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_scale_fill_stores_sessions_in_the_engines_table(scale_filled):
    stored = {row[0] for row in rows(scale_filled, "SELECT session_key FROM accounts_hashedsession")}
    assert stored == {stored_key(scale.filler_key(n)) for n in range(1, ROWS + 1)}


def test_scale_fill_leaves_djangos_session_table_alone(scale_filled):
    assert rows(scale_filled, "SELECT count(*) FROM django_session") == [(0,)]


def test_scale_fill_registers_each_session_by_its_stored_key(scale_filled):
    registry = rows(scale_filled, "SELECT session_key, engine FROM accounts_usersession")
    sessions = rows(scale_filled, "SELECT session_key FROM accounts_hashedsession")
    assert sorted(registry) == sorted((key, DB) for (key,) in sessions)


def test_scale_fill_database_session_is_found_by_the_db_engine(scale_filled):
    assert through_engine(scale_filled, DB, scale.filler_key(1))["exists"] is True


def test_scale_fill_redis_session_is_read_by_the_redis_engine(scale_filled):
    data = through_engine(scale_filled, REDIS, scale.filler_key(ROWS))["data"]
    assert data["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    assert rows(scale_filled, f"SELECT username FROM accounts_user WHERE id = {int(data['_auth_user_id'])}") != []


def test_scale_fill_stores_no_key_in_redis(scale_filled):
    names = [name.decode() for name in scale_filled.redis().scan_iter("*sessions*")]
    assert len(names) == ROWS
    assert not any(scale.filler_key(n) in name for name in names for n in range(1, ROWS + 1))


def test_admin_fill_registers_sessions_by_their_stored_keys(admin_filled):
    registry = {row[0] for row in rows(admin_filled, "SELECT session_key FROM accounts_usersession")}
    assert registry == {stored_key(scale.filler_key(n)) for n in range(1, ROWS + 1)}


def test_admin_fill_backs_database_engines_registry_rows_with_sessions(admin_filled):
    sql = f"SELECT session_key FROM accounts_usersession WHERE engine IN ('{DB}', '{CACHED_DB}')"
    backed = {row[0] for row in rows(admin_filled, sql)}
    stored = {row[0] for row in rows(admin_filled, "SELECT session_key FROM accounts_hashedsession")}
    assert backed and stored == backed


def test_admin_fill_database_session_is_found_by_the_db_engine(admin_filled):
    keys = {stored_key(scale.filler_key(n)): scale.filler_key(n) for n in range(1, ROWS + 1)}
    [(stored,)] = rows(admin_filled, f"SELECT session_key FROM accounts_usersession WHERE engine = '{DB}' LIMIT 1")
    assert through_engine(admin_filled, DB, keys[stored])["exists"] is True
