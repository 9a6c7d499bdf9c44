"""Copies of Redis keys in this process, invalidated by Redis (copies.redis_cache).

Real Redis (the suite's, or a redis-server of our own that a test stops, freezes and
restarts) and real gunicorn processes. Where a copy must go away, the test waits for it
with `eventually`: the guarantee is "within LOCAL_TIER_BOUND", and the timeout only bounds
a hung test; speed is measured by `make bench`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import timedelta

import pytest
import redis
import requests
import time_machine
from django.contrib.sessions.backends.cache import KEY_PREFIX as SESSION_PREFIX
from django.core.cache import caches
from django.utils import timezone

from accounts.models import User
from accounts.selectors import CUTOFF_KEY_PREFIX, cutoff_cache_key, get_access_cutoff
from accounts.session_engines.redis import SessionStore
from copies.channel import MISSING, RECONNECT_MAX_DELAY, reconnect_delay
from copies.redis_cache import TrackingRedisCache
from tests.factories import PASSWORD, UserFactory
from tests.support import eventually, form_login, listener_log, log_out_everywhere, redis_cache_settings

pytestmark = [pytest.mark.redis]
KEY = cutoff_cache_key(42)


def copy_of(key: str, alias: str = "default") -> object:
    """What this process serves for `key` from its own copy (MISSING: none)."""
    backend = caches[alias]
    raw = backend.copies.get(key)
    return raw if raw is MISSING else backend.client.decode(raw)


@pytest.fixture
def tracking_cache(settings, redis_url):
    """The default cache on the suite's Redis, keeping copies of the cut-off (LOCAL_TIER=on's)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        **settings.CACHES,
        "default": redis_cache_settings(redis_url, prefix, copies=(CUTOFF_KEY_PREFIX,)),
    }


@pytest.fixture
def copies(tracking_cache):
    found = caches["default"].copies
    yield found
    found.close()


@pytest.fixture
def unheard_copies(settings, tracking_cache):
    """A warm copy whose listener has stopped: for LOCAL_TIER_BOUND (long here) the copy stays
    fresh and Redis can no longer drop it, so only the backend's own drop on a write can."""
    settings.LOCAL_TIER_BOUND = 8  # the listener stops within BOUND/8 s
    found = caches["default"].copies
    warm()
    found._stop.set()
    found._thread.join(timeout=10)
    yield found
    found.close()


@pytest.fixture
def own_redis_cache(settings, own_redis):
    """The default cache on a redis-server of our own, with a short bound."""
    settings.CACHES = {
        **settings.CACHES,
        "default": redis_cache_settings(own_redis.url, "own", copies=(CUTOFF_KEY_PREFIX,)),
    }
    settings.LOCAL_TIER_BOUND = 0.5
    return own_redis


@pytest.fixture
def own_copies(own_redis_cache):
    found = caches["default"].copies
    yield found
    found.close()


def warm(value: float = 5.0) -> None:
    """Store `value` and read it until this process serves its own copy."""
    caches["default"].set(KEY, value)
    eventually(lambda: caches["default"].get(KEY) == value and copy_of(KEY) == value, what="a local copy")


def test_redis_cache_serves_a_copy_once_the_channel_is_up(copies):
    warm()
    assert copy_of(KEY) == 5.0


def test_redis_cache_keeps_no_missing_key(copies):
    warm()
    assert caches["default"].get("jwt-cutoff:absent") is None
    assert copy_of("jwt-cutoff:absent") is MISSING


def test_redis_cache_keeps_no_copy_of_an_untracked_key(copies):
    warm()
    caches["default"].set("other", 1)
    assert caches["default"].get("other") == 1
    assert copy_of("other") is MISSING


def test_redis_cache_gives_django_redis_none_of_its_own_options(settings, tracking_cache):
    options = settings.CACHES["default"]["OPTIONS"]
    backend = caches["default"]
    assert isinstance(backend, TrackingRedisCache) and backend.copy_prefixes == (CUTOFF_KEY_PREFIX,)
    assert "COPY_PREFIXES" not in backend._params["OPTIONS"]
    assert options["COPY_PREFIXES"] == [CUTOFF_KEY_PREFIX]  # the settings themselves are left alone


def test_redis_cache_drops_a_copy_when_another_client_writes_it(copies, redis_url):
    warm()
    redis.Redis.from_url(redis_url).set(caches["default"].make_key(KEY), b"written elsewhere")
    eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped")


def test_redis_cache_drops_a_copy_when_the_key_expires(copies):
    warm()
    caches["default"].touch(KEY, 1)  # Redis expires it and says so
    eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped", within=15)


@pytest.mark.parametrize(
    "write",
    [
        lambda backend: backend.set(KEY, 6.0),
        lambda backend: backend.add(KEY, 6.0),
        lambda backend: backend.delete(KEY),
        lambda backend: backend.delete_many([KEY]),
        lambda backend: backend.set_many({KEY: 6.0}),
        lambda backend: backend.incr(KEY),
        lambda backend: backend.touch(KEY, 30),
        lambda backend: backend.clear(),
    ],
    ids=["set", "add", "delete", "delete_many", "set_many", "incr", "touch", "clear"],
)
def test_redis_cache_drops_its_own_write_at_once(unheard_copies, write):
    assert copy_of(KEY) == 5.0  # nothing listens any more, and the copy is still fresh
    write(caches["default"])
    assert copy_of(KEY) is MISSING


def in_own_event_loop(coroutine):
    """Run `coroutine` to its end in a thread of its own: a browser test's driver may keep an
    event loop running in this one (Playwright's sync API does), where asgiref refuses."""
    result = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join()
    return result[0]


def test_redis_cache_serves_aget_from_the_copy(own_copies, own_redis_cache):
    warm()
    before = redis_gets(own_redis_cache.url)
    assert in_own_event_loop(caches["default"].aget(KEY)) == 5.0
    assert redis_gets(own_redis_cache.url) == before


def test_redis_cache_shares_its_copies_and_listener_between_threads(copies):
    warm()
    seen = []
    thread = threading.Thread(target=lambda: seen.append((caches["default"].copies, copy_of(KEY))))
    thread.start()
    thread.join()
    assert seen == [(copies, 5.0)]


def test_redis_cache_entry_ends_at_its_maximum_lifetime(copies, settings):
    warm()
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOCAL_TIER_MAX_AGE + 1)):
        assert copy_of(KEY) is MISSING


def test_redis_cache_drops_everything_when_redis_is_flushed(own_copies, own_redis_cache):
    warm()
    redis.Redis.from_url(own_redis_cache.url).flushall()
    eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped")


def test_redis_cache_stops_serving_when_redis_goes_away(own_copies, own_redis_cache):
    warm()
    own_redis_cache.stop()
    eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped")
    with pytest.raises(redis.RedisError):
        caches["default"].get(KEY)  # the caller decides: the cut-off falls back to the database


def test_redis_cache_serves_again_after_redis_restarts(own_copies, own_redis_cache):
    warm()
    own_redis_cache.stop()
    eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped")
    own_redis_cache.start()
    warm(7.0)


def test_redis_cache_stops_serving_when_a_heartbeat_is_missed(own_copies, own_redis_cache):
    warm()
    own_redis_cache.pause()  # the connection stays open, nothing answers
    try:
        eventually(lambda: copy_of(KEY) is MISSING, what="the copy dropped")
    finally:
        own_redis_cache.resume()


def test_redis_cache_logs_an_outage_when_it_starts_and_when_it_ends(own_copies, own_redis_cache, caplog):
    warm()
    caplog.set_level(logging.INFO, logger="copies.channel")
    own_redis_cache.stop()
    eventually(lambda: own_copies.failures >= 3, what="three failed reconnects")
    own_redis_cache.start()
    warm(7.0)
    assert [line.split()[0] for line in listener_log(own_copies, caplog)] == ["WARNING", "INFO"]


def test_redis_cache_log_names_no_password(settings, redis_url):
    url = redis_url.replace("redis://", "redis://:secret@")
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(url, "pw", copies=(CUTOFF_KEY_PREFIX,))}
    assert "secret" not in caches["default"]._new_copies().source_name


def test_redis_cache_reconnect_delay_doubles_up_to_a_bound(settings):
    settings.LOCAL_TIER_BOUND = 1.0
    delays = [reconnect_delay(failures) for failures in range(1, 12)]
    assert delays[:3] == [0.25, 0.5, 1.0]
    assert delays[-1] == RECONNECT_MAX_DELAY


# -- sessions ------------------------------------------------------------------------------------


SESSION_COPIES = (CUTOFF_KEY_PREFIX, SESSION_PREFIX)  # as the site configures Redis sessions


@pytest.fixture
def redis_sessions(settings, redis_url):
    prefix = f"test-sessions-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(redis_url, prefix, copies=SESSION_COPIES)}
    settings.SESSION_ENGINE = "accounts.session_engines.redis"
    yield
    caches[settings.SESSION_CACHE_ALIAS].copies.close()


@pytest.fixture
def sessions_on_own_redis(settings, redis_sessions, own_redis):
    """Sessions on a Redis of their own (SESSION_CACHE_ALIAS), the cut-off on the suite's."""
    own = redis_cache_settings(own_redis.url, "own-sessions", copies=(SESSION_PREFIX,))
    settings.CACHES = {**settings.CACHES, "sessions": own}
    settings.SESSION_CACHE_ALIAS = "sessions"
    settings.LOCAL_TIER_BOUND = 0.5
    yield own_redis
    caches["sessions"].copies.close()


def saved_session(**age) -> SessionStore:
    store = SessionStore()
    store["who"] = "dave"
    if age:
        store.set_expiry(age["seconds"])
    store.save()
    return store


def session_copied(store: SessionStore) -> bool:
    """Whether this process now serves `store`'s session from its own copy."""
    loaded = SessionStore(store.session_key).load().get("who") == "dave"
    return loaded and store._cache.copies.get(store.cache_key) is not MISSING


def test_redis_cache_drops_a_session_deleted_on_the_sessions_redis(sessions_on_own_redis):
    store = saved_session()
    eventually(lambda: session_copied(store), what="a local copy of the session")
    redis.Redis.from_url(sessions_on_own_redis.url).delete(store._cache.make_key(store.cache_key))
    eventually(lambda: SessionStore(store.session_key).load() == {}, what="the deleted session refused")


def test_a_request_cannot_change_the_session_another_one_reads(sessions_on_own_redis):
    store = SessionStore()
    store["cart"] = {"items": ["book"]}
    store.save()

    def copied() -> bool:
        SessionStore(store.session_key).load()
        return store._cache.copies.get(store.cache_key) is not MISSING

    eventually(copied, what="a local copy of the session")
    SessionStore(store.session_key)["cart"]["items"].append("lamp")  # changed in place, never saved
    assert SessionStore(store.session_key).load() == {"cart": {"items": ["book"]}}
    assert store._cache.copies.get(store.cache_key) is not MISSING  # it was served from the copy


def test_redis_cache_keeps_one_listener_per_cache_when_both_are_read(sessions_on_own_redis, db):
    user = UserFactory()
    store = saved_session()
    cutoffs = caches["default"].copies
    cutoff_copied = lambda: copy_of(cutoff_cache_key(user.pk)) is not MISSING  # noqa: E731
    eventually(lambda: get_access_cutoff(user_id=user.pk) == 0 and cutoff_copied(), what="a copy of the cut-off")
    eventually(lambda: session_copied(store), what="a copy of the session")
    listeners = (cutoffs.connection_id, store._cache.copies.connection_id)
    assert cutoffs is not store._cache.copies
    for _ in range(3):
        assert get_access_cutoff(user_id=user.pk) == 0 and session_copied(store)
    assert (cutoffs.connection_id, store._cache.copies.connection_id) == listeners
    assert None not in listeners


def test_redis_cache_copy_of_a_session_ends_with_the_session(redis_sessions):
    store = saved_session(seconds=30)
    eventually(lambda: session_copied(store), what="a local copy of the session")
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):  # Redis has expired it by now
        assert store._cache.copies.get(store.cache_key) is MISSING


def redis_gets(url: str) -> int:
    """GET commands the Redis at `url` has answered so far."""
    return redis.Redis.from_url(url).info("commandstats").get("cmdstat_get", {}).get("calls", 0)


def test_cutoff_is_read_from_the_local_copy(own_redis_cache, db):
    user = UserFactory()
    copied = lambda: copy_of(cutoff_cache_key(user.pk)) is not MISSING  # noqa: E731
    eventually(lambda: get_access_cutoff(user_id=user.pk) == 0 and copied(), what="a local copy of the cut-off")
    before = redis_gets(own_redis_cache.url)
    for _ in range(5):
        assert get_access_cutoff(user_id=user.pk) == 0
    assert redis_gets(own_redis_cache.url) == before


def test_cutoff_falls_back_to_the_database_when_redis_hangs(own_redis_cache, db):
    user = UserFactory()
    assert get_access_cutoff(user_id=user.pk) == 0  # cached in Redis and then in this process
    revoked = timezone.now()
    User.objects.filter(pk=user.pk).update(tokens_valid_after=revoked)  # a change Redis never hears of
    own_redis_cache.pause()
    try:
        eventually(lambda: get_access_cutoff(user_id=user.pk) == revoked.timestamp(), what="the database's cut-off")
    finally:
        own_redis_cache.resume()


# -- real gunicorn processes, two workers each ---------------------------------------------------


def bearer_get(server, access: str) -> requests.Response:
    return requests.get(f"{server.url}/api/dashboard/", headers={"Authorization": f"Bearer {access}"}, timeout=10)


def all_refused(call, status: int, times: int = 10) -> bool:
    """Whether `times` calls in a row are answered with `status` (refused)."""
    return all(call().status_code == status for _ in range(times))


@pytest.mark.server
def test_cutoff_revocation_reaches_every_worker(start_server, redis_url, transactional_db):
    UserFactory(username="carol")
    workers = start_server(workers=2, REDIS_URL=redis_url, JWT_REVOCATION="cutoff")
    other = start_server(REDIS_URL=redis_url, JWT_REVOCATION="cutoff")
    body = {"username": "carol", "password": PASSWORD}
    access = requests.post(f"{workers.url}/api/token/", json=body, timeout=10).json()["access"]
    assert all(bearer_get(workers, access).status_code == 200 for _ in range(20))  # both workers hold a copy
    log_out_everywhere(form_login(other.url, "carol"), other.url)
    eventually(lambda: all_refused(lambda: bearer_get(workers, access), 401), what="every worker refusing")


@pytest.mark.server
def test_ended_redis_session_is_refused_by_every_worker(start_server, redis_url, transactional_db):
    UserFactory(username="dave")
    workers = start_server(workers=2, REDIS_URL=redis_url, SESSION_BACKEND="redis")
    other = start_server(REDIS_URL=redis_url, SESSION_BACKEND="redis")
    victim = form_login(workers.url, "dave")
    profile = lambda: victim.get(f"{workers.url}/accounts/profile/", allow_redirects=False, timeout=10)  # noqa: E731
    assert all(profile().status_code == 200 for _ in range(20))
    log_out_everywhere(form_login(other.url, "dave"), other.url)
    eventually(lambda: all_refused(profile, 302), what="every worker refusing the session")


@pytest.mark.server
def test_cutoff_changed_while_redis_is_down_is_enforced_by_every_worker(start_server, own_redis, transactional_db):
    user = UserFactory(username="erin")
    workers = start_server(workers=2, REDIS_URL=own_redis.url, JWT_REVOCATION="cutoff", LOCAL_TIER_BOUND="0.5")
    body = {"username": "erin", "password": PASSWORD}
    access = requests.post(f"{workers.url}/api/token/", json=body, timeout=10).json()["access"]
    assert all(bearer_get(workers, access).status_code == 200 for _ in range(20))
    own_redis.stop()
    User.objects.filter(pk=user.pk).update(tokens_valid_after=timezone.now())
    eventually(lambda: all_refused(lambda: bearer_get(workers, access), 401), what="every worker refusing")
    own_redis.start()  # back, empty: the next read goes to the database and repopulates Redis
    assert all_refused(lambda: bearer_get(workers, access), 401)


def test_redis_cache_satisfies_the_redis_session_engines_check(settings, redis_sessions):
    """accounts.E001 asks for django-redis: the tracking backend is one."""
    from accounts.session_engines.checks import check_session_cache

    assert settings.CACHES["default"]["BACKEND"] == "copies.redis_cache.TrackingRedisCache"
    assert check_session_cache() == []
