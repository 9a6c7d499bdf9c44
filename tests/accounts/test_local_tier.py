"""The in-process copy of the cut-off and of Redis sessions (accounts.local_tier).

Real Redis (the suite's, or a redis-server of our own that a test stops, freezes and
restarts) and real gunicorn processes. Where a copy must go away, the test waits for it
with `eventually`: the guarantee is "within LOCAL_TIER_BOUND", and the timeout only bounds
a hung test; speed is measured by `make bench`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
import requests
import time_machine
from django.core.cache import cache, caches
from django.utils import timezone

from accounts.local_tier import MISSING, LocalTier, default_tier
from accounts.models import User
from accounts.selectors import cutoff_cache_key, get_access_cutoff
from tests.conftest import _redis_cache, eventually, form_login, log_out_everywhere
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.redis]
KEY = cutoff_cache_key(42)


@pytest.fixture
def tier(redis_cache):
    tier = LocalTier("default")
    yield tier
    tier.close()


@pytest.fixture
def own_redis_cache(settings, own_redis):
    """The default cache on a redis-server of our own, with a short bound."""
    settings.CACHES = {**settings.CACHES, "default": _redis_cache(own_redis.url, "own")}
    settings.LOCAL_TIER_BOUND = 0.5
    return own_redis


@pytest.fixture
def own_tier(own_redis_cache):
    tier = LocalTier("default")
    yield tier
    tier.close()


def warm(tier: LocalTier, value: float = 5.0) -> None:
    """Store `value` and read it until this process serves its own copy."""
    cache.set(KEY, value)
    eventually(lambda: tier.read(cache, KEY) == value and tier.get(cache, KEY) == value, what="a local copy")


def test_local_tier_serves_a_copy_once_the_channel_is_up(tier):
    warm(tier)
    assert tier.get(cache, KEY) == 5.0


def test_local_tier_keeps_no_missing_key(tier):
    warm(tier)
    assert tier.read(cache, "jwt-cutoff:absent") is None
    assert tier.get(cache, "jwt-cutoff:absent") is MISSING


def test_local_tier_drops_a_copy_when_another_client_writes_it(tier, redis_url):
    warm(tier)
    redis.Redis.from_url(redis_url).set(cache.make_key(KEY), b"written elsewhere")
    eventually(lambda: tier.get(cache, KEY) is MISSING, what="the copy dropped")


def test_local_tier_drops_a_copy_when_the_key_expires(tier):
    warm(tier)
    cache.touch(KEY, 1)  # Redis expires it and says so
    eventually(lambda: tier.get(cache, KEY) is MISSING, what="the copy dropped", within=15)


def test_local_tier_drops_its_own_write_at_once(tier):
    warm(tier)
    cache.set(KEY, 6.0)
    tier.discard(cache, KEY)
    assert tier.get(cache, KEY) is MISSING


def test_local_tier_entry_ends_at_its_maximum_lifetime(tier, settings):
    warm(tier)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOCAL_TIER_MAX_AGE + 1)):
        assert tier.get(cache, KEY) is MISSING


def test_local_tier_drops_everything_when_redis_is_flushed(own_tier, own_redis_cache):
    warm(own_tier)
    redis.Redis.from_url(own_redis_cache.url).flushall()
    eventually(lambda: own_tier.get(cache, KEY) is MISSING, what="the copy dropped")


def test_local_tier_stops_serving_when_redis_goes_away(own_tier, own_redis_cache):
    warm(own_tier)
    own_redis_cache.stop()
    eventually(lambda: own_tier.get(cache, KEY) is MISSING, what="the copy dropped")
    with pytest.raises(redis.RedisError):
        own_tier.read(cache, KEY)  # the caller decides: the cut-off falls back to the database


def test_local_tier_serves_again_after_redis_restarts(own_tier, own_redis_cache):
    warm(own_tier)
    own_redis_cache.stop()
    eventually(lambda: own_tier.get(cache, KEY) is MISSING, what="the copy dropped")
    own_redis_cache.start()
    warm(own_tier, 7.0)


def test_local_tier_stops_serving_when_a_heartbeat_is_missed(own_tier, own_redis_cache):
    warm(own_tier)
    own_redis_cache.pause()  # the connection stays open, nothing answers
    try:
        eventually(lambda: own_tier.get(cache, KEY) is MISSING, what="the copy dropped")
    finally:
        own_redis_cache.resume()


def redis_gets(url: str) -> int:
    """GET commands the Redis at `url` has answered so far."""
    return redis.Redis.from_url(url).info("commandstats").get("cmdstat_get", {}).get("calls", 0)


def test_cutoff_is_read_from_the_local_copy(own_redis_cache, db):
    user = UserFactory()
    copied = lambda: default_tier.get(caches["default"], cutoff_cache_key(user.pk)) is not MISSING  # noqa: E731
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


def all_refused(call, times: int = 10) -> bool:
    return all(call().status_code in (302, 401) for _ in range(times))


@pytest.mark.server
def test_cutoff_revocation_reaches_every_worker(start_server, redis_url, transactional_db):
    UserFactory(username="carol")
    workers = start_server(workers=2, REDIS_URL=redis_url, JWT_REVOCATION="cutoff")
    other = start_server(REDIS_URL=redis_url, JWT_REVOCATION="cutoff")
    body = {"username": "carol", "password": PASSWORD}
    access = requests.post(f"{workers.url}/api/token/", json=body, timeout=10).json()["access"]
    assert all(bearer_get(workers, access).status_code == 200 for _ in range(20))  # both workers hold a copy
    log_out_everywhere(form_login(other.url, "carol"), other.url)
    eventually(lambda: all_refused(lambda: bearer_get(workers, access)), what="every worker refusing")


@pytest.mark.server
def test_ended_redis_session_is_refused_by_every_worker(start_server, redis_url, transactional_db):
    UserFactory(username="dave")
    workers = start_server(workers=2, REDIS_URL=redis_url, SESSION_BACKEND="redis")
    other = start_server(REDIS_URL=redis_url, SESSION_BACKEND="redis")
    victim = form_login(workers.url, "dave")
    profile = lambda: victim.get(f"{workers.url}/accounts/profile/", allow_redirects=False, timeout=10)  # noqa: E731
    assert all(profile().status_code == 200 for _ in range(20))
    log_out_everywhere(form_login(other.url, "dave"), other.url)
    eventually(lambda: all_refused(profile), what="every worker refusing the session")


@pytest.mark.server
def test_cutoff_changed_while_redis_is_down_is_enforced_by_every_worker(start_server, own_redis, transactional_db):
    user = UserFactory(username="erin")
    workers = start_server(workers=2, REDIS_URL=own_redis.url, JWT_REVOCATION="cutoff", LOCAL_TIER_BOUND="0.5")
    body = {"username": "erin", "password": PASSWORD}
    access = requests.post(f"{workers.url}/api/token/", json=body, timeout=10).json()["access"]
    assert all(bearer_get(workers, access).status_code == 200 for _ in range(20))
    own_redis.stop()
    User.objects.filter(pk=user.pk).update(tokens_valid_after=timezone.now())
    eventually(lambda: all_refused(lambda: bearer_get(workers, access)), what="every worker refusing")
    own_redis.start()  # back, empty: the next read goes to the database and repopulates Redis
    assert all_refused(lambda: bearer_get(workers, access))
