"""Every connection follows the primary the Sentinels name (accounts.sentinel): an old primary
frozen with SIGSTOP past down-after-milliseconds wakes up believing it is still the primary,
holding values changed on the new one since; nothing of this process may read it."""

import pytest
import redis
from django.core.cache import caches

from accounts.sentinel import FollowingSentinelPool, watcher_for
from copies.channel import MISSING
from deploy.cluster.drill_redis import frozen, new_primary
from tests.support import eventually

pytestmark = [pytest.mark.redis]
PLAIN, TRACKED = "following:plain", "jwt-cutoff:following"


@pytest.fixture
def backend(settings, sentinel_cache):
    settings.LOCAL_TIER_BOUND = 0.5  # below Sentinel's down-after-milliseconds (1 s, deploy/sentinel.conf)
    found = caches["default"]
    yield found
    found.copies.close()


def pool_of(backend) -> FollowingSentinelPool:
    return backend.client.get_client(write=True).connection_pool


def test_reads_never_reach_the_old_primary_when_it_wakes(backend, sentinel_cache):
    backend.set(PLAIN, "before")
    assert backend.get(PLAIN) == "before"  # the pool now holds an idle connection to the primary
    victim = sentinel_cache.primary()
    watcher = watcher_for(pool_of(backend).sentinel_manager, pool_of(backend).service_name)
    with frozen(victim):
        port = new_primary(sentinel_cache, victim)
        new = sentinel_cache.client(next(node for node in sentinel_cache.redis if node.port == port))
        new.set(backend.make_key(PLAIN), backend.client.encode("after"))
        eventually(lambda: watcher.primary()[1] == port, what="the watcher to name the new primary", within=5)
    assert backend.get(PLAIN) == "after"  # read right after the old primary woke up
    assert pool_of(backend).master_address[1] == port


def test_copies_listen_to_the_new_primary_after_a_switch(backend, sentinel_cache):
    backend.set(TRACKED, 1)
    eventually(lambda: backend.get(TRACKED) == 1 and backend.copies.get(TRACKED) is not MISSING, what="a copy")
    first = backend.copies.connection_id
    backend.copies.primary_changed(("127.0.0.1", 1))  # as the watcher says when the Sentinels switch
    assert backend.copies.get(TRACKED) is MISSING  # dropped at once
    eventually(lambda: backend.copies.connection_id != first, what="the listener to reconnect")
    eventually(lambda: backend.get(TRACKED) == 1 and backend.copies.get(TRACKED) is not MISSING, what="a new copy")


def test_no_read_while_no_majority_of_sentinels_names_the_primary(backend, sentinel_cache):
    backend.set(TRACKED, 1)
    eventually(lambda: backend.get(TRACKED) == 1 and backend.copies.get(TRACKED) is not MISSING, what="a copy")
    rpc, gone = sentinel_cache.supervisor.rpc(), [sentinel.name for sentinel in sentinel_cache.sentinels[:2]]
    try:  # stopped, not frozen: a Sentinel resumed from SIGSTOP sits out 30 s (its TILT mode)
        for name in gone:
            rpc.stopProcess(name)
        eventually(lambda: not pool_of(backend).confirmed(), what="the fence", within=10)
        assert backend.copies.get(TRACKED) is MISSING
        with pytest.raises(redis.RedisError):
            backend.get(TRACKED)
    finally:
        for name in gone:
            rpc.startProcess(name)
    eventually(lambda: pool_of(backend).confirmed(), what="the Sentinels to vouch again", within=10)
    assert backend.get(TRACKED) == 1
