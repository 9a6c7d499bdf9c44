"""The local tier (accounts.local_tier) across a Sentinel failover: its listener is built from
the cache's Sentinel pool, so after a promotion it either listens to the new primary or
serves nothing locally; it never serves a copy that the new primary has changed."""

import pytest
import redis
from django.core.cache import caches

from accounts.local_tier import MISSING, LocalTier
from bench.cluster import wait_until
from tests.conftest import eventually

pytestmark = [pytest.mark.redis]
KEY = "jwt-cutoff:failover"


@pytest.fixture
def failover_tier(settings, sentinel_cache):
    settings.LOCAL_TIER_BOUND = 0.5  # below Sentinel's down-after-milliseconds (1 s, deploy/sentinel.conf)
    tier = LocalTier("default")
    yield tier
    tier.close()


def read(tier: LocalTier) -> object:
    """The tier's read of KEY; None while Redis is unreachable (the failover is under way)."""
    try:
        return tier.read(caches["default"], KEY)
    except redis.RedisError:
        return None


def test_local_tier_never_serves_a_copy_the_new_primary_changed(failover_tier, sentinel_cache):
    backend = caches["default"]
    backend.set(KEY, 1)
    eventually(lambda: read(failover_tier) == 1 and failover_tier.get(backend, KEY) == 1, what="a local copy")
    victim = sentinel_cache.primary()
    victim.kill()
    port = wait_until(
        lambda: sentinel_cache.primary_port() not in (None, victim.port) and sentinel_cache.primary_port(),
        timeout=30, what="a new primary",
    )  # fmt: skip
    primary = sentinel_cache.client(next(node for node in sentinel_cache.redis if node.port == port))
    primary.set(backend.make_key(KEY), 2)
    assert failover_tier.get(backend, KEY) in (MISSING, 2)
    eventually(
        lambda: read(failover_tier) == 2 and failover_tier.get(backend, KEY) == 2,
        what="a copy from the new primary",
        within=30,
    )
    primary.set(backend.make_key(KEY), 3)  # heard from the new primary: the listener follows it
    eventually(lambda: failover_tier.get(backend, KEY) in (MISSING, 3), what="the copy dropped")
