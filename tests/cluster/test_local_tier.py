"""Copies of Redis keys (copies.redis_cache) across a Sentinel failover: the listener is built
from the cache's Sentinel pool, so after a promotion it either listens to the new primary or
serves nothing locally; it never serves a copy that the new primary has changed."""

import pytest
import redis
from django.core.cache import caches

from copies.channel import MISSING
from copies.redis_cache import TrackingRedisCache
from harness.stack import wait_until
from tests.support import eventually

pytestmark = [pytest.mark.redis]
KEY = "jwt-cutoff:failover"


@pytest.fixture
def failover_copies(settings, sentinel_cache):
    settings.LOCAL_TIER_BOUND = 0.5  # below Sentinel's down-after-milliseconds (1 s, deploy/sentinel.conf)
    assert isinstance(caches["default"], TrackingRedisCache)
    found = caches["default"].copies
    yield found
    found.close()


def read() -> object:
    """The cache's read of KEY; None while Redis is unreachable (the failover is under way)."""
    try:
        return caches["default"].get(KEY)
    except redis.RedisError:
        return None


def copy_of_key() -> object:
    raw = caches["default"].copies.get(KEY)
    return raw if raw is MISSING else caches["default"].client.decode(raw)


def test_copies_never_serve_a_value_the_new_primary_changed(failover_copies, sentinel_cache):
    backend = caches["default"]
    backend.set(KEY, 1)
    eventually(lambda: read() == 1 and copy_of_key() == 1, what="a local copy")
    victim = sentinel_cache.primary()
    victim.kill()
    port = wait_until(
        lambda: sentinel_cache.primary_port() not in (None, victim.port) and sentinel_cache.primary_port(),
        timeout=30, what="a new primary",
    )  # fmt: skip
    primary = sentinel_cache.client(next(node for node in sentinel_cache.redis if node.port == port))
    primary.set(backend.make_key(KEY), 2)
    assert copy_of_key() in (MISSING, 2)
    eventually(lambda: read() == 2 and copy_of_key() == 2, what="a copy from the new primary", within=30)
    primary.set(backend.make_key(KEY), 3)  # heard from the new primary: the listener follows it
    eventually(lambda: copy_of_key() in (MISSING, 3), what="the copy dropped")
