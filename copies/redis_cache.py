"""django-redis's cache backend, keeping this process's copies of some keys, invalidated by Redis.

Configure it in place of django_redis.cache.RedisCache, naming the keys worth a copy (cache
keys, before the cache's own prefix) in OPTIONS:

    "BACKEND": "copies.redis_cache.TrackingRedisCache",
    "OPTIONS": {..., "COPY_PREFIXES": ["jwt-cutoff:", "django.contrib.sessions.cache"]},

A read of such a key (`get`, and `aget`) is served from this process's copy while Redis's
invalidation channel is fresh (copies.channel), else read with its remaining lifetime (GET
and PTTL in one MULTI) and kept: never a missing key (random keys must not fill the memory),
never past LOCAL_TIER_MAX_AGE nor the key's own expiry. Every write through the backend
drops this process's copy of the keys it writes at once; Redis tells every process of a
change made by anyone, using server-assisted client-side caching
(https://redis.io/docs/latest/develop/reference/client-side-caching/): one listener
connection per process and configuration, in RESP2, runs `CLIENT TRACKING ON REDIRECT <its
own id> BCAST PREFIX ...` and subscribes to `__redis__:invalidate`; Redis then names every
tracked key that is written, deleted, expired or evicted, and a FLUSHDB says "everything".
Behind Sentinel, a pool that can say when the primary changes (accounts.sentinel's
`add_follower`) has the listener drop every copy and listen to the new primary at once: a
listener left on an old primary that was frozen would otherwise keep answering heartbeats
when it wakes up, and never hear of the changes made on the new one.

Every other read and write is django-redis's. Errors of a tracked read propagate (as
django-redis's do without IGNORE_EXCEPTIONS): the caller decides what an outage means.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

from django_redis.cache import RedisCache

from copies import channel
from copies.channel import MISSING, Copies

INVALIDATE_CHANNEL = "__redis__:invalidate"


class RedisCopies(Copies):
    """One cache configuration's copies in this process, and its key-tracking listener."""

    label = "Redis copies"
    store = "Redis"

    def __init__(self, source_name: str, pool, redis_prefix: str, prefixes: tuple[str, ...]):
        """`pool`: the cache's connection pool (its connection class and arguments, so a
        Sentinel pool gives the listener the current primary); `redis_prefix`: what the cache
        puts in front of a cache key (copies are kept by cache key)."""
        super().__init__(source_name)
        self.pool = pool
        self.redis_prefix = redis_prefix
        self.tracked = [redis_prefix + prefix for prefix in prefixes]
        self.listening_to: tuple[str, int] | None = None
        if hasattr(pool, "add_follower"):
            pool.add_follower(self)

    def get(self, key: str) -> object:
        """The copy, unless the pool cannot vouch for its primary now (accounts.sentinel's fence:
        cut off from the Sentinels, this listener may be on an old primary)."""
        if hasattr(self.pool, "confirmed") and not self.pool.confirmed():
            return MISSING
        return super().get(key)

    def primary_changed(self, address: tuple[str, int]) -> None:
        """The Sentinels named another primary: unless the listener is on it, start over there."""
        if self.listening_to != address:
            self.restart()

    def _open(self):
        # RESP2, because redis-py's RESP3 parser consumes invalidation pushes for its own
        # client-side cache. connect() before the first command: a Sentinel-managed connection
        # asks the Sentinels for the primary only there.
        self.listening_to = None  # opening: a primary_changed() from now on restarts it
        connection = self.pool.connection_class(**{**self.pool.connection_kwargs, "protocol": 2})
        connection.connect()
        self.listening_to = (connection.host, connection.port)
        return connection

    def _close(self, connection) -> None:
        connection.disconnect()

    def _listen(self, connection, stop: threading.Event) -> None:
        connection.send_command("CLIENT", "ID")
        connection_id = connection.read_response()
        arguments = [part for prefix in self.tracked for part in ("PREFIX", prefix)]
        connection.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", connection_id, "BCAST", *arguments)
        connection.read_response()
        connection.send_command("SUBSCRIBE", INVALIDATE_CHANNEL)
        connection.read_response()

        def receive(timeout: float) -> bool:
            if connection.can_read(timeout=timeout) and not stop.is_set():
                return self._handle(connection.read_response())
            return False

        self._keep_alive(connection_id, stop, lambda: connection.send_command("PING"), receive)

    def _handle(self, message) -> bool:
        """Apply one message; True when it answers the heartbeat."""
        if message[0] == b"message":
            keys, start = message[2], len(self.redis_prefix)
            self.drop(None if keys is None else [key.decode()[start:] for key in keys])
            return False
        return message[0] == b"pong"


class TrackingRedisCache(RedisCache):
    """django-redis's RedisCache; reads of OPTIONS["COPY_PREFIXES"] keys served from this
    process's copy while Redis can say it changed, and every write dropping its copy."""

    def __init__(self, server: str, params: dict):
        options = dict(params.get("OPTIONS", {}))  # a copy: Django shares the settings' dict
        self.copy_prefixes = tuple(options.pop("COPY_PREFIXES", ()))
        super().__init__(server, {**params, "OPTIONS": options})
        # What makes two backends (one per thread) share their copies: the same configuration.
        self._identity = (type(self), server, repr(options), self.make_key(""), self.copy_prefixes)

    def tracks(self, key: str) -> bool:
        """Whether reads of cache key `key` are served from this process's copy."""
        return key.startswith(self.copy_prefixes)

    @property
    def copies(self) -> RedisCopies:
        """This process's copies for this configuration (Django builds a backend per thread)."""
        return channel.shared(self._identity, self._new_copies)

    def _new_copies(self) -> RedisCopies:
        pool = self.client.get_client(write=True).connection_pool
        name = f"{_without_credentials(self._server)} {self.key_prefix}".strip()
        return RedisCopies(name, pool, self.make_key(""), self.copy_prefixes)

    # -- reads ---------------------------------------------------------------------------

    def get(self, key, default=None, version=None, client=None):
        if version is not None or client is not None or not self.tracks(key):
            return super().get(key, default, version, client)
        copies = self.copies
        raw = copies.get(key)
        if raw is MISSING:
            generation = copies.generation
            raw, ttl = self._get_with_lifetime(key)
            if raw is None:
                return default
            copies.keep(key, raw, generation, ttl)
        return self.client.decode(raw)  # each read unpickles its own: no request changes another's

    async def aget(self, key, default=None, version=None):
        """A copy without a thread hop; otherwise Django's (get() in a thread, as django-redis)."""
        if version is None and self.tracks(key):
            raw = self.copies.get(key)
            if raw is not MISSING:
                return self.client.decode(raw)
        return await super().aget(key, default, version)

    def _get_with_lifetime(self, key: str) -> tuple[bytes | None, float | None]:
        """The stored bytes of `key` and its remaining lifetime in seconds (None: no expiry),
        in one round trip, so a copy never outlives the key."""
        pipe = self.client.get_client(write=False).pipeline(transaction=True)
        redis_key = self.client.make_key(key)
        pipe.get(redis_key)
        pipe.pttl(redis_key)
        raw, pttl = pipe.execute()
        if raw is None:
            return None, None
        return raw, (pttl / 1000 if pttl >= 0 else None)

    # -- writes: this process forgets its copy at once; Redis tells the others ----------------

    @contextmanager
    def _dropping(self, keys):
        """Drop the copies of `keys` (None: all) after the write, whether or not it succeeded."""
        try:
            yield
        finally:
            tracked = None if keys is None else [key for key in keys if self.tracks(key)]
            if tracked is None or tracked:
                self.copies.drop(tracked)

    def set(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().set(key, *args, **kwargs)

    def add(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().add(key, *args, **kwargs)

    def delete(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().delete(key, *args, **kwargs)

    def touch(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().touch(key, *args, **kwargs)

    def incr(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().incr(key, *args, **kwargs)

    def decr(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().decr(key, *args, **kwargs)

    def expire(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().expire(key, *args, **kwargs)

    def persist(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().persist(key, *args, **kwargs)

    def incr_version(self, key, *args, **kwargs):
        with self._dropping([key]):
            return super().incr_version(key, *args, **kwargs)

    def set_many(self, data, *args, **kwargs):
        with self._dropping(list(data)):
            return super().set_many(data, *args, **kwargs)

    def delete_many(self, keys, *args, **kwargs):
        keys = list(keys)
        with self._dropping(keys):
            return super().delete_many(keys, *args, **kwargs)

    def delete_pattern(self, *args, **kwargs):
        with self._dropping(None):
            return super().delete_pattern(*args, **kwargs)

    def clear(self):
        with self._dropping(None):
            return super().clear()


def _without_credentials(location: str) -> str:
    """`location` (one or more Redis URLs) without passwords, for the log."""
    parts = (urlsplit(url.strip()) for url in location.split(","))
    return ",".join(f"{p.scheme}://{p.hostname or ''}{f':{p.port}' if p.port else ''}{p.path}" for p in parts)
