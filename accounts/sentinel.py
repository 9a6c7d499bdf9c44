"""Follow the Redis primary the Sentinels name, at once, and never read an old one again.

redis-py's Sentinel pool asks the Sentinels for the primary only when it opens a connection
(or a write meets READONLY). Its idle connections stay on the old primary: after a failover
around a primary that was frozen (SIGSTOP, a stalled VM, a long fork), that primary wakes up
believing it is still the primary, holding sessions revoked on the new one since, and a pooled
connection to it would serve them until Sentinel gets round to demoting it.

So each process runs one watcher per set of Sentinels (`Watcher`), a thread per Sentinel that
subscribes to its `+switch-master` announcements and asks `SENTINEL MASTER` every POLL seconds
(an announcement is not resent to a subscriber that was reconnecting). The primary is the one
named with the highest configuration epoch: a Sentinel that has not heard of the failover yet
names the old primary under the old epoch, and is outvoted however it answers. On a change,
every registered follower is told at once: `FollowingSentinelPool` (CONNECTION_POOL_CLASS of
django-redis's SentinelConnectionFactory, in authdemo.settings) disconnects its idle
connections and refuses the busy ones when they come back (redis-py's own rule for a pool
whose primary changed); copies.redis_cache's listener drops every copy and listens to the new
primary. Every new connection goes to the watcher's primary.

A process cut off from the Sentinels cannot hear of a failover: in a partition it may still
reach the old primary, which goes on answering. So a process reads Redis only while a majority
of the Sentinels named the primary within the last FENCE seconds (`Watcher.confirmed`); past
that, the pool refuses connections (a RedisError: the cut-off is read from the database, a
Redis session answers 503) and the copies are not served. FENCE is twice LOCAL_TIER_BOUND (2 s),
shorter than it takes the Sentinels on the other side to promote a replica (down-after 1 s,
then an election: about 3 s) and a revocation to be acknowledged there.

The bound: within POLL seconds (plus one Sentinel round trip) of the Sentinels' switch, no
connection of this process reads the old primary; with the `+switch-master` announcement it is
a few milliseconds. POLL is a quarter of LOCAL_TIER_BOUND, so a revocation acknowledged by the
new primary is never read from the old one later than LOCAL_TIER_BOUND after it.
"""

from __future__ import annotations

import os
import threading
import time
import weakref

from django.conf import settings
from redis.exceptions import ConnectionError, RedisError  # noqa: A004  (redis's, a RedisError)
from redis.sentinel import MasterNotFoundError, SentinelConnectionPool, SentinelConnectionPoolProxy

SWITCH_CHANNEL = "+switch-master"
STALE_AFTER = 3.0  # seconds: a Sentinel's view older than this no longer counts


def poll_interval() -> float:
    return settings.LOCAL_TIER_BOUND / 4 or 0.25


def fence_after() -> float:
    return 2 * settings.LOCAL_TIER_BOUND or 2.0


def latest_primary(sentinels, service: str) -> tuple[int, tuple[str, int]] | None:
    """(configuration epoch, address) of the primary named under the highest epoch by any of
    `sentinels` (redis-py clients) that answers, or None when none does."""
    views = []
    for sentinel in sentinels:
        try:
            state = sentinel.sentinel_master(service)
        except (RedisError, OSError):
            continue
        views.append((state["config-epoch"], (state["ip"], state["port"])))
    return max(views, default=None)


class Watcher:
    """One process's knowledge of the primary of `service`, kept by a thread per Sentinel."""

    def __init__(self, sentinels: list, service: str):
        self.sentinels, self.service = sentinels, service
        self.followers: weakref.WeakSet = weakref.WeakSet()
        self._views: dict[int, tuple[int, tuple[str, int], float]] = {}
        self._primary: tuple[str, int] | None = None
        self._asked = 0.0  # when confirmed() last asked every Sentinel itself
        self._lock = threading.Lock()
        for n, sentinel in enumerate(sentinels):
            thread = threading.Thread(target=self._watch, args=(n, sentinel), name=f"sentinel-watch-{n}", daemon=True)
            thread.start()

    def primary(self) -> tuple[str, int]:
        """The primary: the watcher's, else asked of every Sentinel now (a process just started)."""
        if (known := self._current()) is not None:
            return known
        found = latest_primary(self.sentinels, self.service)
        if found is None:
            raise MasterNotFoundError(f"No Sentinel answered for {self.service!r}")
        return found[1]

    def confirmed(self) -> bool:
        """Whether a majority of the Sentinels named the primary within fence_after() seconds.
        When not, every Sentinel is asked now, at most once per fence_after() (a process that
        just started has heard nothing yet)."""
        if self._majority_fresh():
            return True
        if time.monotonic() - self._asked < fence_after():
            return False
        self._asked = time.monotonic()
        for n, sentinel in enumerate(self.sentinels):
            try:
                state = sentinel.sentinel_master(self.service)
            except (RedisError, OSError):
                continue
            self._learn(n, state["config-epoch"], (state["ip"], state["port"]))
        return self._majority_fresh()

    def _majority_fresh(self) -> bool:
        since = time.monotonic() - fence_after()
        return 2 * sum(1 for *_, at in list(self._views.values()) if at >= since) > len(self.sentinels)

    def _current(self) -> tuple[str, int] | None:
        fresh = [(epoch, address) for epoch, address, at in self._views.values() if time.monotonic() - at < STALE_AFTER]
        return max(fresh)[1] if fresh else None

    def _watch(self, n: int, sentinel) -> None:
        pubsub = None
        while True:
            try:
                if pubsub is None:
                    pubsub = sentinel.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(SWITCH_CHANNEL)
                state = sentinel.sentinel_master(self.service)
                self._learn(n, state["config-epoch"], (state["ip"], state["port"]))
                pubsub.get_message(timeout=poll_interval())  # returns at once on a switch
            except (RedisError, OSError, KeyError):
                self._views.pop(n, None)
                if pubsub is not None:
                    pubsub.close()
                pubsub = None
                time.sleep(poll_interval())

    def _learn(self, n: int, epoch: int, address: tuple[str, int]) -> None:
        with self._lock:  # held while followers are told, so that they hear the changes in order
            self._views[n] = (epoch, address, time.monotonic())
            current, before = self._current(), self._primary
            self._primary = current
            # Not on the first answer: every connection so far was opened on the same highest epoch.
            if before is not None and current != before:
                for follower in list(self.followers):
                    follower.primary_changed(current)


_watchers: dict[tuple, Watcher] = {}
_watchers_lock = threading.Lock()


def watcher_for(sentinel_manager, service: str) -> Watcher:
    """This process's watcher of `service` on these Sentinels (a forked worker starts its own)."""
    addresses = tuple(sorted(str(s.get_connection_kwargs().get("port")) for s in sentinel_manager.sentinels))
    key = (os.getpid(), service, addresses)
    with _watchers_lock:
        if key not in _watchers:
            _watchers[key] = Watcher(list(sentinel_manager.sentinels), service)
        return _watchers[key]


class FollowingProxy(SentinelConnectionPoolProxy):
    """Where a new connection goes: the watcher's primary (redis-py's asks the first Sentinel
    that answers, which may not have heard of the failover)."""

    def get_master_address(self):
        address = watcher_for(self.sentinel_manager, self.service_name).primary()
        pool = self.connection_pool_ref()
        if self.is_master and pool is not None:
            pool.primary_changed(address)
        return address


class FollowingSentinelPool(SentinelConnectionPool):
    """redis-py's Sentinel pool, told by the process's watcher when the primary changes."""

    def __init__(self, service_name, sentinel_manager, **kwargs):
        super().__init__(service_name, sentinel_manager, **kwargs)
        self.proxy = FollowingProxy(self, self.is_master, self.check_connection, service_name, sentinel_manager)
        self.connection_kwargs["connection_pool"] = self.proxy
        self.add_follower(self)

    def reset(self) -> None:
        super().reset()  # also after a fork (redis-py's pid check): follow from this process's watcher
        if hasattr(self, "sentinel_manager"):
            self.add_follower(self)

    def add_follower(self, follower) -> None:
        """Have `follower.primary_changed(address)` called whenever the primary changes."""
        watcher_for(self.sentinel_manager, self.service_name).followers.add(follower)

    def confirmed(self) -> bool:
        """Whether the Sentinels confirmed the primary recently enough to read it (Watcher.confirmed)."""
        return watcher_for(self.sentinel_manager, self.service_name).confirmed()

    def get_connection(self, *args, **kwargs):
        if self.is_master and not self.confirmed():
            raise ConnectionError(f"no majority of the Sentinels named the primary of {self.service_name!r} "
                                  f"within {fence_after():g} s: it may be an old one, not read")  # fmt: skip
        return super().get_connection(*args, **kwargs)

    def primary_changed(self, address: tuple[str, int]) -> None:
        """Drop the idle connections to any other node; busy ones are refused when released."""
        if not self.is_master or self.proxy.master_address == address:
            return
        self.proxy.master_address = address
        self.disconnect(inuse_connections=False)
