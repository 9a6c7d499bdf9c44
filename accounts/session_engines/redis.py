"""Django's cache session store on Redis, where an outage is an error, not a logout."""

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import CreateError, UpdateError

from accounts.replication import replicated
from accounts.session_engines.keys import HashedCacheKeys, StoredByDigest


class SessionStore(StoredByDigest, HashedCacheKeys, cache.SessionStore):
    """Load sessions without swallowing cache errors; write them with SET NX / SET XX; keep
    each under `django.contrib.sessions.cache<SHA-256 of the key>`, never the key itself.

    Django's `load()` treats any cache exception as "no session" (for memcached's invalid
    keys, ticket #17810). During a Redis outage every user would then silently look logged
    out, and logging in would fail deep inside key creation. Letting the error through
    gives a clear 503 page at once (authdemo.views.server_error).

    Every sync method has its async twin with the same guarantees; `acreate`,
    `acycle_key` and `aflush` are Django's, built on the methods here; `delete` and
    `delete_stored` are accounts.session_engines.keys.StoredByDigest's.
    The cache must be django-redis (system check `accounts.E001`).

    Writes and deletes wait for a replica where one is configured (accounts.replication),
    so a Sentinel failover neither logs anyone out nor brings an ended session back.

    Reads are the cache's: with LOCAL_TIER=on the site's cache is
    copies.redis_cache.TrackingRedisCache, which serves this process's copy of a session and
    drops it when the session is written or deleted.
    """

    needs_redis_cache = True  # SET NX/XX: django-redis's set() takes nx= and xx=

    def load(self):
        return self._loaded(self._cache.get(self.cache_key))

    async def aload(self):
        return self._loaded(await self._cache.aget(await self.acache_key()))

    def _loaded(self, session_data):
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}

    def save(self, must_create=False):
        """Write only if the key is absent (create) or still present (update), atomically.

        Django checks with a GET and then SETs; a session revoked between the two would be
        written back. Redis's SET NX / SET XX make the check and the write one step.
        """
        if self.session_key is None:
            return self.create()
        self._write(self.cache_key, self._get_session(no_load=must_create), self.get_expiry_age(), must_create)

    async def asave(self, must_create=False):
        """See save()."""
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)
        # BaseCache.aset() cannot pass nx/xx on; django-redis's set() runs in a thread, as
        # every django-redis call made from async code does.
        await sync_to_async(self._write)(await self.acache_key(), data, await self.aget_expiry_age(), must_create)

    def _write(self, key, data, age, must_create):
        """SET NX (create) or SET XX (update) one session; raise if Redis refused."""
        with replicated(self._cache) as target:
            written = self._cache.set(key, data, age, nx=must_create, xx=not must_create, **target)
        if not written:
            raise CreateError if must_create else UpdateError

    def exists(self, session_key):
        return bool(session_key) and self._cache.has_key(self.cache_key_of(session_key))

    async def aexists(self, session_key):
        return bool(session_key) and await self._cache.ahas_key(self.cache_key_of(session_key))

    def _delete_stored(self, stored: str) -> None:
        with replicated(self._cache) as target:
            self._cache.delete(self.cache_key_prefix + stored, **target)

    async def _adelete_stored(self, stored: str) -> None:
        """See _delete_stored(); django-redis's calls run in a thread from async code anyway."""
        await sync_to_async(self._delete_stored)(stored)
