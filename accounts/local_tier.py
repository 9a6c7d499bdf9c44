"""A per-process copy of hot Redis keys, invalidated by Redis itself.

The per-user access-token cut-off and Redis session records are read on every request. A
Redis read costs a network round trip; a dictionary lookup does not. This module keeps a
copy of those keys in each process and lets Redis say when a copy is wrong, using Redis's
server-assisted client-side caching (https://redis.io/docs/latest/develop/reference/client-side-caching/):

- One listener connection per process, in RESP2, runs `CLIENT TRACKING ON REDIRECT <its own
  id> BCAST PREFIX <cut-off keys> PREFIX <session keys>` and subscribes to
  `__redis__:invalidate`. From then on Redis itself sends the name of every key under those
  prefixes that changes: written by any client (another process, the admin, redis-cli),
  deleted, expired or evicted; a FLUSHDB/FLUSHALL sends "everything". Nobody has to remember
  to publish, which is why this is tracking and not plain pub/sub.
- The copy is served only while the channel is known to be alive: the listener PINGs every
  quarter of LOCAL_TIER_BOUND seconds, and a copy is served only until LOCAL_TIER_BOUND after
  the last PING that was answered. Redis answers a PING after every invalidation it queued
  before it, so no copy is ever served more than LOCAL_TIER_BOUND seconds after a change,
  even when the connection hangs silently. A lost connection drops every copy at once, and
  reads go to Redis (and, where the caller says so, the database) until the listener is back.
- Every entry also has a maximum lifetime: LOCAL_TIER_MAX_AGE, and never past the key's own
  expiry in Redis (its PTTL, read with the value in one round trip), so a copy of an expired
  session is never served (Redis would not even see the read that expires it lazily).
- One tier per cache alias (`tier(alias)`): the listener watches the Redis that alias uses
  (sessions may live on another server than the cut-off, SESSION_CACHE_ALIAS), through that
  alias's own pool, so a Sentinel pool gives it the current primary.
- An outage is logged once when the channel is lost and once when it is back; reconnects
  back off (doubling, up to RECONNECT_MAX_DELAY).
- A read from Redis is stored only if no invalidation arrived while it was in flight
  (a generation counter), so an old value can never overwrite the news of a change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.cache import KEY_PREFIX as SESSION_KEY_PREFIX

logger = logging.getLogger(__name__)

INVALIDATE_CHANNEL = "__redis__:invalidate"
CUTOFF_KEY_PREFIX = "jwt-cutoff:"
TRACKED_PREFIXES = (CUTOFF_KEY_PREFIX, SESSION_KEY_PREFIX)  # cache keys, before the cache's own prefix
MAX_ENTRIES = 100_000
RECONNECT_MAX_DELAY = 5.0  # seconds between reconnect attempts during a long outage, at most
MISSING = object()


class ChannelLost(Exception):
    """The invalidation channel answered nothing within the bound."""


def listener_connection(pool):
    """Open a new RESP2 connection to the Redis that connection pool `pool` serves, outside it.

    The only place the listener gets a connection: it is built from the cache's own pool
    (connection class and arguments), so a pool that follows Redis Sentinel gives one to
    the current master. RESP2, because redis-py's RESP3 parser consumes invalidation pushes
    for its own client-side cache.
    """
    return pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})


def reconnect_delay(failures: int) -> float:
    """Seconds to wait before reconnect attempt number `failures` + 1 of one outage."""
    return min(settings.LOCAL_TIER_BOUND / 4 * 2 ** max(failures - 1, 0), RECONNECT_MAX_DELAY)


class LocalTier:
    """The copies of one cache's tracked keys in this process, and their listener thread.

    The copies, their freshness, lifetime and generation, and the heartbeat loop are shared
    with accounts.database_tier, whose channel is PostgreSQL's."""

    name = "local tier"  # in the log and the listener thread's name
    store = "Redis"  # where reads go while the channel is down, for the log

    def __init__(self, alias: str = "default"):
        self.alias = alias
        self.failures = 0  # consecutive failed connections of the current outage
        self._entries: dict[str, tuple[object, float]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._fresh_until = 0.0  # time.monotonic() until which the channel is known alive
        self._owner: tuple | None = None  # the listener's identity: its process and configuration (_owner_of)
        self._redis_prefix = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connection_id: int | None = None

    def close(self) -> None:
        """Stop the listener (it closes its connection) and forget every copy."""
        with self._lock:
            self._stop.set()
            self._owner, self._fresh_until = None, 0.0
            self._generation += 1
            self._entries.clear()

    # -- reads and writes ----------------------------------------------------------------

    def get(self, cache, key: str) -> object:
        """Return the local copy of cache key `key`, or MISSING."""
        self._ensure_listener(cache)
        if time.monotonic() > self._fresh_until:
            return MISSING
        entry = self._entries.get(key)
        if entry is None or entry[1] <= time.time():
            return MISSING
        return self._thaw(cache, entry[0])

    @staticmethod
    def _thaw(cache, raw: bytes) -> object:
        """The value of a copy: each read unpickles its own, so that no request can change
        (a nested dict of a session, say) what another one reads."""
        return cache.client.decode(raw)

    def read(self, cache, key: str) -> object:
        """Return `cache.get(key)`, from the local copy when there is a fresh one.

        Cache errors propagate: the caller decides what an outage means. A missing key is
        not copied (random keys must not fill the memory).
        """
        value = self.get(cache, key)
        if value is not MISSING:
            return value
        generation = self._generation
        raw, ttl = self._fetch(cache, key)
        return self._kept(cache, key, raw, generation, ttl)

    async def aread(self, cache, key: str) -> object:
        """read(), for async code: the copy, or `await cache.aget(key)`."""
        value = self.get(cache, key)
        if value is not MISSING:
            return value
        generation = self._generation
        raw, ttl = await sync_to_async(self._fetch)(cache, key)  # as django-redis's own aget() does
        return self._kept(cache, key, raw, generation, ttl)

    def _kept(self, cache, key: str, raw: bytes | None, generation: int, ttl: float | None) -> object:
        """Keep what was read as the copy (if it exists) and return its value."""
        if raw is None:
            return None
        self._put(key, raw, generation, ttl)
        return self._thaw(cache, raw)

    @staticmethod
    def _fetch(cache, key: str) -> tuple[bytes | None, float | None]:
        """Return the stored bytes of cache key `key` and its remaining lifetime in seconds
        (None: no expiry), in one round trip (GET and PTTL in one MULTI)."""
        client = cache.client
        pipe = client.get_client(write=False).pipeline(transaction=True)
        redis_key = client.make_key(key)
        pipe.get(redis_key)
        pipe.pttl(redis_key)
        raw, pttl = pipe.execute()
        if raw is None:
            return None, None
        return raw, (pttl / 1000 if pttl >= 0 else None)

    def discard(self, cache, key: str) -> None:
        """Drop this process's copy of `key` now (after writing it), not when Redis says so."""
        self._invalidate([key])

    def _put(self, key: str, value: object, generation: int, ttl: float | None) -> None:
        lifetime = settings.LOCAL_TIER_MAX_AGE if ttl is None else min(ttl, settings.LOCAL_TIER_MAX_AGE)
        with self._lock:
            if generation != self._generation or time.monotonic() > self._fresh_until:
                return  # something changed while the value was read, or the channel is down
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (value, time.time() + lifetime)

    def _invalidate(self, keys: Iterable[str] | None) -> None:
        with self._lock:
            self._generation += 1
            if keys is None:
                self._entries.clear()
            else:
                for key in keys:
                    self._entries.pop(key, None)

    def _lost(self, reason: str) -> None:
        with self._lock:
            self._fresh_until = 0.0
            self._generation += 1
            self._entries.clear()
        self.failures += 1
        if self.failures == 1:  # once per outage, not once per reconnect attempt
            logger.warning(
                "%s %s: invalidation channel lost (%s); reading %s until it is back",
                self.name,
                self.alias,
                reason,
                self.store,
            )

    def _restored(self) -> None:
        if self.failures:
            logger.info(
                "%s %s: invalidation channel back after %d failed attempts", self.name, self.alias, self.failures
            )
        self.failures = 0

    # -- the listener ----------------------------------------------------------------------

    def _ensure_listener(self, source) -> None:
        """Start the listener of `source` (a cache here, a database alias for the database
        tier) in this process, once."""
        owner = self._owner_of(source)
        if owner != self._owner:
            with self._lock:
                if owner != self._owner:  # a new process (fork) or a new configuration
                    self._restart(owner, *self._listener_arguments(source))

    @staticmethod
    def _owner_of(cache) -> tuple:
        return (os.getpid(), cache.key_prefix, cache.version)

    def _listener_arguments(self, cache) -> tuple:
        """What the listener thread gets, taken from the cache in hand now: the thread must
        not look the alias up again later, when the configuration may be another one.
        Entries are keyed by cache key; Redis names them with the cache's prefix in front."""
        self._redis_prefix = cache.make_key("")
        prefixes = [self._redis_prefix + prefix for prefix in TRACKED_PREFIXES]
        return cache.client.get_client(write=True).connection_pool, prefixes

    def _restart(self, owner: tuple, *arguments) -> None:
        """Forget every copy and start a listener thread: `_run(arguments, stop)`."""
        self._stop.set()
        self._stop = threading.Event()
        self._owner, self._fresh_until, self.connection_id = owner, 0.0, None
        self._generation += 1
        self._entries.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(arguments, self._stop),
            name=f"{self.name.replace(' ', '-')}-{self.alias}",
            daemon=True,
        )
        self._thread.start()

    def _run(self, arguments: tuple, stop: threading.Event) -> None:
        """The listener thread: open the channel, listen until it fails, then reconnect."""
        while not stop.is_set():
            connection = None
            try:
                connection = self._open(*arguments)
                self._listen(connection, stop, *arguments)
            except Exception as exc:  # noqa: BLE001  (whatever it was: the copies go, the listener comes back)
                if not stop.is_set():
                    self._lost(str(exc).strip() or type(exc).__name__)
            finally:
                if connection is not None:
                    self._close(connection)
            stop.wait(reconnect_delay(self.failures))  # then reconnect

    @staticmethod
    def _open(pool, prefixes: list[str]):  # noqa: ARG004  (the listener's arguments, all of them)
        connection = listener_connection(pool)
        # connect() before the first command: a Sentinel-managed connection asks the
        # Sentinels for the primary only there (redis-py 8's send_command connects to
        # the URL's host, the service name, when it is not connected yet).
        connection.connect()
        return connection

    @staticmethod
    def _close(connection) -> None:
        connection.disconnect()

    def _listen(self, connection, stop: threading.Event, pool, prefixes: list[str]) -> None:  # noqa: ARG002
        connection.send_command("CLIENT", "ID")
        connection_id = connection.read_response()
        arguments = [part for prefix in prefixes for part in ("PREFIX", prefix)]
        connection.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", connection_id, "BCAST", *arguments)
        connection.read_response()
        connection.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
        connection.read_response()

        def receive(timeout: float) -> bool:
            if connection.can_read(timeout=timeout) and not stop.is_set():
                return self._handle(connection.read_response())
            return False

        self._keep_alive(connection_id, stop, lambda: connection.send_command("PING"), receive)

    def _keep_alive(self, connection_id, stop: threading.Event, send_heartbeat, receive) -> None:
        """Once the channel listens: forget every copy read before, then keep the heartbeat.

        `send_heartbeat()` sends one; `receive(timeout)` applies what arrives within `timeout`
        seconds and says whether it was the heartbeat's answer. Copies are served until
        LOCAL_TIER_BOUND after the last heartbeat that was answered.
        """
        self._invalidate(None)  # nothing read before listening began may be kept
        self.connection_id = connection_id
        bound = settings.LOCAL_TIER_BOUND
        sent_at, answered = 0.0, True
        while not stop.is_set():
            now = time.monotonic()
            if answered and now - sent_at >= bound / 4:
                send_heartbeat()
                sent_at, answered = now, False
            elif not answered and now - sent_at > bound:
                raise ChannelLost(f"no answer to a heartbeat within {bound} s")
            if receive(bound / 8):
                if not self._fresh_until:
                    self._restored()  # back when a heartbeat is answered, not when connected
                self._fresh_until, answered = sent_at + bound, True

    def _handle(self, message) -> bool:
        """Apply one message; True when it answers the heartbeat."""
        kind = message[0]
        if kind == b"message":
            keys = message[2]
            start = len(self._redis_prefix)
            self._invalidate(None if keys is None else [key.decode()[start:] for key in keys])
            return False
        return kind == b"pong"


def enabled(cache) -> bool:
    """Whether reads of `cache` go through the local tier (LOCAL_TIER=on and a Redis cache).

    `cache` is a backend (`caches[alias]`), not the `django.core.cache.cache` proxy."""
    return settings.LOCAL_TIER == "on" and type(cache).__module__.startswith("django_redis")


_tiers: dict[tuple[type, str], LocalTier] = {}
_tiers_lock = threading.Lock()


def tier(alias: str, kind: type[LocalTier] = LocalTier) -> LocalTier:
    """This process's tier of `kind` for `alias` (one listener each: for a LocalTier, on the
    Redis of cache `alias`; for accounts.database_tier, on database `alias`)."""
    key = (kind, alias)
    found = _tiers.get(key)
    if found is None:
        with _tiers_lock:
            found = _tiers.setdefault(key, kind(alias))
    return found


def close_all(kind: type[LocalTier]) -> None:
    """Stop every listener of `kind` in this process, forget its copies, and wait until each
    listener has closed its connection."""
    for (found_kind, _alias), found in list(_tiers.items()):
        if found_kind is kind:
            found.close()
            if found._thread is not None:
                found._thread.join(timeout=settings.LOCAL_TIER_BOUND + 5)
