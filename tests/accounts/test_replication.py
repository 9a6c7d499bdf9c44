"""Session writes and revocations reach a Redis replica before they count (accounts.replication).

Real Redis primary, two replicas and Sentinels of our own; the replicas are paused with SIGSTOP
(our own processes) to stand for ones that did not get the write before a failover.
"""

from importlib import import_module

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts import services, vocabulary
from accounts.models import User
from accounts.replication import NotReplicated
from accounts.selectors import cutoff_cache_key
from tests.factories import UserFactory
from tests.support import replica_paused

pytestmark = [pytest.mark.redis]


def redis_session(settings):
    settings.SESSION_BACKEND = "redis"
    settings.SESSION_ENGINE = vocabulary.session_engine("redis").module
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store["k"] = "v"
    store.create()
    return store


def on_replica(stores, key: str) -> bool:
    """Whether a replica holds `key` (WAIT 1: one of them, at least, when the write returns)."""
    return any(stores.client(node).exists(cache.make_key(key)) for node in stores.replicas_now())


def test_session_create_is_on_the_replica_when_it_returns(settings, sentinel_cache):
    store = redis_session(settings)
    assert on_replica(sentinel_cache, store.cache_key)


def test_session_delete_is_on_the_replica_when_it_returns(settings, sentinel_cache):
    store = redis_session(settings)
    store.delete()
    assert not on_replica(sentinel_cache, store.cache_key)


def test_session_delete_no_replica_acknowledged_is_an_error(settings, sentinel_cache):
    store = redis_session(settings)
    with replica_paused(sentinel_cache), pytest.raises(NotReplicated):
        store.delete()


def test_session_login_no_replica_acknowledged_is_an_error(settings, sentinel_cache):
    with replica_paused(sentinel_cache), pytest.raises(NotReplicated):
        redis_session(settings)


def test_cutoff_no_replica_acknowledged_commits_nothing(db, sentinel_cache):
    user = UserFactory()
    with replica_paused(sentinel_cache), pytest.raises(NotReplicated):
        services.revoke_everything(user=user, reason="test")
    assert User.objects.get(pk=user.pk).tokens_valid_after is None


def test_cutoff_is_on_the_replica_when_it_returns(db, sentinel_cache):
    user = UserFactory()
    services.revoke_everything(user=user, reason="test")
    assert on_replica(sentinel_cache, cutoff_cache_key(user.pk))


def test_single_redis_writes_do_not_wait(redis_cache, db):
    user = UserFactory()
    services.revoke_everything(user=user, reason="test")  # no replica: WAIT would refuse this
    assert settings.REDIS_WAIT_REPLICAS == 0
    assert cache.get(cutoff_cache_key(user.pk)) > 0
