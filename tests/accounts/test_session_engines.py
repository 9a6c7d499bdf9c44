"""The custom session engines keep Django's contract, sync and async, on real Redis.

Django's own session-store tests run against the same classes in test_session_engines_django.py;
these are the guarantees our engines add on top (no swallowed Redis errors, SET NX/XX writes,
the cached copy deleted first) and their async twins.
"""

import asyncio
import uuid
from contextlib import contextmanager

import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.base import UpdateError
from django.db.models.signals import post_init, post_save

from accounts import vocabulary
from accounts.models import HashedSession
from accounts.session_engines import cached_db
from accounts.session_engines import db as db_engine
from accounts.session_engines import redis as redis_engine
from accounts.session_engines.keys import stored_key
from accounts.vocabulary import CACHED_DB, REDIS
from harness.stack import free_port

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("async_to_sync_allowed")]


@pytest.fixture
def redis_down(settings):
    """Point the default cache at a port where no Redis listens: every call fails at once."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "KEY_PREFIX": f"down-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }


def caches_default_delete(key):
    from django.core.cache import cache

    cache.delete(key)


def saved(store_class, **data):
    """A stored session with `data`, created through the engine."""
    store = store_class()
    store.update(data)
    store.save(must_create=True)
    return store


# -- redis ---------------------------------------------------------------------------------


def test_redis_aload_raises_when_redis_is_down(redis_down):
    store = redis_engine.SessionStore("a" * 32)
    with pytest.raises(redis.exceptions.ConnectionError):
        async_to_sync(store.aload)()


def test_redis_aexists_raises_when_redis_is_down(redis_down):
    with pytest.raises(redis.exceptions.ConnectionError):
        async_to_sync(redis_engine.SessionStore().aexists)("a" * 32)


def test_redis_asave_racing_adelete_never_writes_the_session_back(redis_cache):
    key = saved(redis_engine.SessionStore, user="alice").session_key
    writer, revoker = redis_engine.SessionStore(key), redis_engine.SessionStore(key)

    async def race():
        await writer.aset("page", "profile")  # loads the session before the race starts
        # Both calls queue on the one thread that runs sync cache calls: a check-then-write
        # save would be GET, DEL, SET and bring the revoked session back.
        return await asyncio.gather(writer.asave(), revoker.adelete(), return_exceptions=True)

    outcomes = async_to_sync(race)()
    assert all(o is None or isinstance(o, UpdateError) for o in outcomes)
    assert not redis_engine.SessionStore().exists(key)


def test_redis_asave_of_a_revoked_session_raises_update_error(redis_cache):
    store = saved(redis_engine.SessionStore, user="alice")
    redis_engine.SessionStore(store.session_key).delete()
    store["page"] = "profile"
    with pytest.raises(UpdateError):
        async_to_sync(store.asave)()
    assert not store.exists(store.session_key)


# -- cached_db -----------------------------------------------------------------------------


@pytest.fixture
def row_without_cached_copy(db, redis_down):
    """A cached_db session stored while the cache is down: a database row only."""
    return saved(cached_db.SessionStore, user="alice").session_key


def test_cached_db_aload_reads_the_database_when_the_cache_is_down(row_without_cached_copy):
    store = cached_db.SessionStore(row_without_cached_copy)
    assert async_to_sync(store.aload)() == {"user": "alice"}


def test_cached_db_exists_looks_in_the_cache_first(db, redis_cache, django_assert_num_queries):
    key = saved(cached_db.SessionStore, user="alice").session_key
    with django_assert_num_queries(0):
        assert cached_db.SessionStore().exists(key)


def test_cached_db_aexists_looks_in_the_cache_first(db, redis_cache, django_assert_num_queries):
    key = saved(cached_db.SessionStore, user="alice").session_key
    with django_assert_num_queries(0):
        assert async_to_sync(cached_db.SessionStore().aexists)(key)


def test_cached_db_exists_answers_from_the_database_when_the_cache_is_down(row_without_cached_copy):
    assert cached_db.SessionStore().exists(row_without_cached_copy)


def test_cached_db_aexists_answers_from_the_database_when_the_cache_is_down(row_without_cached_copy):
    assert async_to_sync(cached_db.SessionStore().aexists)(row_without_cached_copy)


def test_cached_db_exists_is_false_after_a_revocation(db, redis_cache):
    key = saved(cached_db.SessionStore, user="alice").session_key
    cached_db.SessionStore(key).delete()
    assert not cached_db.SessionStore().exists(key)


def test_cached_db_adelete_removes_the_cached_copy_and_the_row(db, redis_cache):
    key = saved(cached_db.SessionStore, user="alice").session_key
    async_to_sync(cached_db.SessionStore(key).adelete)()
    assert not HashedSession.objects.filter(session_key=stored_key(key)).exists()
    assert async_to_sync(cached_db.SessionStore(key).aload)() == {}


def test_cached_db_adelete_with_the_cache_down_fails_before_the_row_goes(row_without_cached_copy):
    with pytest.raises(redis.exceptions.ConnectionError):
        async_to_sync(cached_db.SessionStore(row_without_cached_copy).adelete)()
    assert HashedSession.objects.filter(session_key=stored_key(row_without_cached_copy)).exists()


@contextmanager
def revoked_on(signal, key):
    """Revoke session `key` through the engine the first time `signal` fires for a session row:
    in the middle of another store's load or save, at the one moment a race would need."""
    fired = []

    def revoke(sender, **kwargs):
        if not fired:
            fired.append(True)
            cached_db.SessionStore(key).delete()

    signal.connect(revoke, sender=HashedSession, weak=False)
    try:
        yield
    finally:
        signal.disconnect(revoke, sender=HashedSession)


def test_cached_db_load_revoked_after_its_database_read_leaves_no_cached_copy(db, redis_cache):
    key = saved(cached_db.SessionStore, user="alice").session_key
    caches_default_delete(cached_db.SessionStore().cache_key_of(key))
    with revoked_on(post_init, key):  # the row is read, then the whole revocation runs
        cached_db.SessionStore(key).load()
    assert cached_db.SessionStore(key).load() == {}


def test_cached_db_save_revoked_after_its_database_write_leaves_no_cached_copy(db, redis_cache):
    store = saved(cached_db.SessionStore, user="alice")
    store["page"] = "profile"
    with revoked_on(post_save, store.session_key):  # the row is written, then revoked
        store.save()
    assert cached_db.SessionStore(store.session_key).load() == {}


def test_cached_db_aload_racing_adelete_never_leaves_a_cached_copy(db, redis_cache):
    key = saved(cached_db.SessionStore, user="alice").session_key
    caches_default_delete(cached_db.SessionStore().cache_key_of(key))  # a row, no cached copy
    reader, revoker = cached_db.SessionStore(key), cached_db.SessionStore(key)

    async def race():
        # The calls queue on the one thread that runs sync code: the reader's write-back would
        # land between the revoker's cache delete and row delete, outliving the revocation.
        await asyncio.gather(reader.aload(), revoker.adelete())

    async_to_sync(race)()
    assert cached_db.SessionStore(key).load() == {}


def test_cached_db_asave_racing_adelete_never_leaves_a_cached_copy(db, redis_cache):
    key = saved(cached_db.SessionStore, user="alice").session_key
    writer, revoker = cached_db.SessionStore(key), cached_db.SessionStore(key)

    async def race():
        await writer.aset("page", "profile")
        return await asyncio.gather(writer.asave(), revoker.adelete(), return_exceptions=True)

    outcomes = async_to_sync(race)()
    assert all(o is None or isinstance(o, UpdateError) for o in outcomes)
    assert cached_db.SessionStore(key).load() == {}


# -- start-up check ------------------------------------------------------------------------


def session_check_errors():
    """The session engines' own cache checks (django_ratelimit's check the throttle cache)."""
    from django.core import checks

    return [m.id for m in checks.run_checks(tags=[checks.Tags.caches]) if m.id.startswith("accounts.")]


@pytest.mark.parametrize("engine", [REDIS, CACHED_DB])
def test_engine_on_a_local_memory_cache_fails_the_system_check(settings, engine):
    settings.SESSION_ENGINE = vocabulary.session_engine(engine).module
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert session_check_errors() == ["accounts.E001"]


def test_redis_engine_on_a_missing_cache_alias_fails_the_system_check(settings, redis_cache):
    settings.SESSION_ENGINE = vocabulary.session_engine(REDIS).module
    settings.SESSION_CACHE_ALIAS = "sessions"
    assert session_check_errors() == ["accounts.E001"]


def test_redis_engine_on_django_redis_passes_the_system_check(settings, redis_cache):
    settings.SESSION_ENGINE = vocabulary.session_engine(REDIS).module
    assert session_check_errors() == []


# -- revocation by the stored key (the registry's) ----------------------------------------


ENGINES = {"db": db_engine, "cached_db": cached_db, "redis": redis_engine}


@pytest.mark.parametrize("engine", ENGINES)
def test_delete_stored_ends_the_session_named_by_its_digest(db, redis_cache, engine):
    store_class = ENGINES[engine].SessionStore
    key = saved(store_class, user="alice").session_key
    store_class.delete_stored(stored_key(key))
    assert store_class(key).load() == {}
    assert not store_class().exists(key)


@pytest.mark.parametrize("engine", ENGINES)
def test_adelete_stored_ends_the_session_named_by_its_digest(db, redis_cache, engine):
    store_class = ENGINES[engine].SessionStore
    key = saved(store_class, user="alice").session_key
    async_to_sync(store_class.adelete_stored)(stored_key(key))
    assert async_to_sync(store_class(key).aload)() == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_delete_stored_of_the_cookie_key_ends_nothing(db, redis_cache, engine):
    """The stored key is the digest: the cookie's key itself names no stored session."""
    store_class = ENGINES[engine].SessionStore
    key = saved(store_class, user="alice").session_key
    store_class.delete_stored(key)
    assert store_class(key).load() == {"user": "alice"}
