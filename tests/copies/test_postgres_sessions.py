"""Copies of database sessions in this process, invalidated by PostgreSQL (copies.postgres_sessions).

Real PostgreSQL: changes are made and committed on connections of their own (psql's way,
not the site's), so only the trigger and LISTEN/NOTIFY can tell this process. Where a copy
must go away, the test waits for it with `eventually`: the guarantee is "within
LOCAL_TIER_BOUND"; speed is measured by `make bench`. Two gunicorn processes sharing
database sessions: tests/accounts/test_two_instances.py.
"""

from __future__ import annotations

import hashlib
import time
from importlib import import_module

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connection, transaction

from accounts.session_engines.db import SessionStore as PlainStore
from accounts.session_engines.keys import stored_key
from copies import postgres_sessions
from copies.channel import MISSING
from copies.postgres_sessions import SessionStore
from tests.support import eventually, listener_log

MANY = import_module("accounts.migrations.0007_hashed_sessions").MANY
TABLE = postgres_sessions.TABLE  # accounts.HashedSession: rows keyed by the SHA-256 of the key

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def copies(postgres, transactional_db, settings):
    settings.SESSION_ENGINE = "copies.postgres_sessions"
    settings.LOCAL_TIER_BOUND = 0.5
    found = postgres_sessions.session_copies(DEFAULT_DB_ALIAS)
    yield found
    postgres_sessions.close_all()


def sql(statement: str, *params) -> list[tuple]:
    """Run one statement on a connection of its own, committed, as another client would."""
    parameters = connection.get_connection_params()
    with psycopg.connect(**{**parameters, "autocommit": True}) as other:
        cursor = other.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def saved_session(**data) -> SessionStore:
    store = SessionStore()
    store.update(data)
    store.save(must_create=True)
    return store


def copied(copies, store: SessionStore) -> bool:
    """Read through the store until this process serves its own copy."""
    SessionStore(store.session_key).load()
    return copies.get(stored_key(store.session_key)) is not MISSING


def test_a_read_session_is_served_without_a_query(copies, django_assert_num_queries):
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    with django_assert_num_queries(0):
        assert SessionStore(store.session_key).load() == {"colour": "blue"}


def test_a_change_committed_elsewhere_reaches_the_copy(copies):
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    changed = SessionStore().encode({"colour": "red"})
    sql(f"UPDATE {TABLE} SET session_data = %s WHERE session_key = %s", changed, stored_key(store.session_key))
    eventually(lambda: SessionStore(store.session_key).load() == {"colour": "red"}, what="the change")


def test_a_session_deleted_elsewhere_is_not_served(copies):
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    sql(f"DELETE FROM {TABLE} WHERE session_key = %s", stored_key(store.session_key))
    eventually(lambda: SessionStore(store.session_key).load() == {}, what="the deletion")


def test_a_truncate_drops_every_copy(copies):
    stores = [saved_session(n=n) for n in range(3)]
    eventually(lambda: all(copied(copies, store) for store in stores), what="local copies")
    sql(f"TRUNCATE {TABLE}")
    eventually(lambda: all(SessionStore(s.session_key).load() == {} for s in stores), what="the truncate")


def test_this_process_forgets_its_own_writes_at_once(copies):
    """No waiting for the notification: the store drops its copy when it writes."""
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    store["colour"] = "green"
    store.save()
    assert SessionStore(store.session_key).load() == {"colour": "green"}
    store.delete()
    assert SessionStore(store.session_key).load() == {}


def test_a_lost_channel_drops_every_copy_and_reads_go_to_the_database(copies, django_assert_num_queries):
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    listener = copies.connection_id
    sql("SELECT pg_terminate_backend(%s)", listener)
    eventually(lambda: copies.get(stored_key(store.session_key)) is MISSING, what="drop")
    # Changed while this process has no channel: it must read the database, not a copy.
    sql(
        f"UPDATE {TABLE} SET session_data = %s WHERE session_key = %s",
        SessionStore().encode({"c": 1}),
        stored_key(store.session_key),
    )
    assert SessionStore(store.session_key).load() == {"c": 1}
    eventually(lambda: copies.connection_id not in (None, listener), what="a new listener")
    eventually(lambda: copied(copies, store), what="copies served again")


def test_a_copy_lives_no_longer_than_the_session_or_the_maximum_age(copies, settings):
    settings.LOCAL_TIER_MAX_AGE = 30
    short, long = saved_session(n=1), saved_session(n=2)
    short.set_expiry(5)
    short.save()
    eventually(lambda: copied(copies, short) and copied(copies, long), what="local copies")
    now = time.time()
    entries = copies._entries
    assert entries[stored_key(short.session_key)][1] <= now + 5
    assert entries[stored_key(long.session_key)][1] <= now + 30


def test_the_channel_names_a_session_by_its_digest_never_its_key(copies):
    store = saved_session(colour="blue")
    parameters = connection.get_connection_params()
    with psycopg.connect(**{**parameters, "autocommit": True}) as listener:
        listener.execute(f"LISTEN {postgres_sessions.CHANNEL}")
        sql(f"DELETE FROM {TABLE} WHERE session_key = %s", stored_key(store.session_key))
        payloads = [notify.payload for notify in listener.notifies(timeout=5, stop_after=1)]
    assert payloads == [hashlib.sha256(store.session_key.encode()).hexdigest()]


def test_a_bulk_change_sends_one_notification_for_every_copy(copies):
    stores = [saved_session(n=n) for n in range(MANY + 1)]
    keys = [stored_key(store.session_key) for store in stores]
    parameters = connection.get_connection_params()
    with psycopg.connect(**{**parameters, "autocommit": True}) as listener:
        listener.execute(f"LISTEN {postgres_sessions.CHANNEL}")
        sql(f"DELETE FROM {TABLE} WHERE session_key = ANY(%s)", keys)
        sql(f"DELETE FROM {TABLE} WHERE session_key = %s", keys[0])  # nothing left: no notification
        payloads = [notify.payload for notify in listener.notifies(timeout=1)]
    assert payloads == [postgres_sessions.EVERYTHING]


def test_nothing_read_inside_a_transaction_is_kept(copies):
    """It may be this transaction's own write, which a rollback would never report."""
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="the listener")  # the channel is up
    with transaction.atomic():
        inner = SessionStore(store.session_key)
        inner["colour"] = "green"
        inner.save()
        assert SessionStore(store.session_key).load() == {"colour": "green"}
        transaction.set_rollback(True)
    assert copies.get(stored_key(store.session_key)) is MISSING
    assert SessionStore(store.session_key).load() == {"colour": "blue"}


def test_a_request_cannot_change_what_another_one_reads(copies, django_assert_num_queries):
    store = saved_session(cart={"items": ["book"]})
    eventually(lambda: copied(copies, store), what="a local copy")
    first = SessionStore(store.session_key)
    first["cart"]["items"].append("lamp")  # changed in place, never saved
    with django_assert_num_queries(0):  # both read the same copy
        assert SessionStore(store.session_key).load() == {"cart": {"items": ["book"]}}


def test_no_copy_is_served_while_the_triggers_are_disabled(copies, caplog):
    """Without the triggers nothing would report a change: the heartbeat stops, and so do the
    copies; the listener says so once and waits longer between attempts, not every second."""
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="a local copy")
    sql(f"ALTER TABLE {TABLE} DISABLE TRIGGER authdemo_sessions_updated")
    try:
        eventually(lambda: not copied(copies, store), what="copies stopped")
        changed = SessionStore().encode({"colour": "red"})
        sql(f"UPDATE {TABLE} SET session_data = %s WHERE session_key = %s", changed, stored_key(store.session_key))
        assert SessionStore(store.session_key).load() == {"colour": "red"}
        eventually(lambda: copies.failures >= 2, what="a second attempt, refused for the triggers")
    finally:
        sql(f"ALTER TABLE {TABLE} ENABLE TRIGGER authdemo_sessions_updated")
    eventually(lambda: copied(copies, store), what="copies served again")
    logged = listener_log(copies, caplog)
    lost = [line for line in logged if "invalidation channel lost" in line]
    back = [line for line in logged if "invalidation channel back" in line]
    assert len(lost) == 1 and len(back) == 1, logged


def test_the_plain_db_engine_keeps_no_copy(copies, django_assert_num_queries):
    """With copies off (LOCAL_TIER=off) the site's engine is accounts.session_engines.db: every
    load is Django's query, however often the session is read."""
    store = saved_session(colour="blue")
    eventually(lambda: copied(copies, store), what="the listener up, with copies")
    for _ in range(3):
        with django_assert_num_queries(1):
            assert PlainStore(store.session_key).load() == {"colour": "blue"}


def test_copies_apply_only_on_postgresql(db):
    """Elsewhere the engine is the db engine: nothing could say that a copy changed."""
    model = SessionStore.get_model_class()
    assert postgres_sessions.copies_apply(model, DEFAULT_DB_ALIAS) == (connection.vendor == "postgresql")
