"""Django's cached_db sessions, serving from the database while Redis is down."""

import logging

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import cached_db

from accounts.replication import replicated
from accounts.session_engines import db
from accounts.session_engines.keys import HashedCacheKeys

DBStore = db.SessionStore  # the rows: accounts.HashedSession, under the SHA-256 of the key

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(HashedCacheKeys, cached_db.SessionStore, DBStore):
    """cached_db that survives a cache outage and never lets a revoked session come back.

    The row and the cached copy are both kept under the SHA-256 of the key
    (`django.contrib.sessions.cached_db<sha256>`): the project's db engine below Django's
    cached_db, and accounts.session_engines.keys for the cache key.

    The invariant: a cached copy never outlives its database row.
    - load: when the cache cannot be read or written, the database answers alone, so
      logged-in users stay logged in (Django's own load() fails on the cache write-back).
      The write-back is an add (never over a fresher copy), and the row is looked up again
      after it: a revocation that completed meanwhile takes the copy away again.
    - save: the database first, as Django's; then the cached copy is updated only if it is
      still there (SET XX), so a revocation between the two writes is not undone.
    - exists: the cache first, as Django's, then the database; a cache that cannot be read
      leaves the answer to the database. A cached copy only exists beside its row, so
      "found in the cache" never revives a revoked session.
    - delete: the cached copy goes first. If the cache cannot be reached the delete fails
      as a whole, so the database row is not removed while a stale cached copy may
      survive to authenticate the session again once the cache is back. It goes again
      after the row, in case a concurrent load or save wrote it back in between.

    Every sync method has its async twin with the same guarantees; create, cycle_key and
    flush are Django's, built on these; `delete_stored(stored)` ends a session known by its
    stored key (the registry's), as delete() does. The cache must be django-redis (accounts.E001).
    """

    needs_redis_cache = True  # SET XX: django-redis's set() takes xx=

    def load(self):
        data = self._from_cache(self._cache.get, self.cache_key)
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        age = self.get_expiry_age(expiry=stored.expire_date)
        if self._to_cache(self._cache.add, self.cache_key, data, age) and not DBStore.exists(self, self.session_key):
            self._cache.delete(self.cache_key)  # revoked while we read: the copy must not stay
        return data

    async def aload(self):
        cache_key = await self.acache_key()
        data = await self._afrom_cache(self._cache.aget, cache_key)
        if data is not None:
            return data
        stored = await self._aget_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        age = await self.aget_expiry_age(expiry=stored.expire_date)
        if await self._ato_cache(self._cache.aadd, cache_key, data, age) and not await DBStore.aexists(
            self, self.session_key
        ):
            await self._cache.adelete(cache_key)
        return data

    def save(self, must_create=False):
        DBStore.save(self, must_create)
        self._save_to_cache(self.cache_key, self._session, self.get_expiry_age(), must_create)

    async def asave(self, must_create=False):
        await DBStore.asave(self, must_create)
        args = (await self.acache_key(), await self._aget_session(), await self.aget_expiry_age(), must_create)
        await sync_to_async(self._save_to_cache)(*args)

    def _save_to_cache(self, key, data, age, must_create):
        """Set a new session's copy; refresh an existing one only while it is still cached."""
        try:
            self._cache.set(key, data, age, **({} if must_create else {"xx": True}))
        except Exception:  # noqa: BLE001  (Django's cached_db: a cache write failure is not fatal)
            logger.exception("Error saving to cache (%s)", self._cache)

    def exists(self, session_key):
        if not session_key:
            return False
        return bool(self._from_cache(self._cache.has_key, self.cache_key_of(session_key))) or DBStore.exists(
            self, session_key
        )

    async def aexists(self, session_key):
        if not session_key:
            return False
        cached = await self._afrom_cache(self._cache.ahas_key, self.cache_key_of(session_key))
        return bool(cached) or await DBStore.aexists(self, session_key)

    delete = DBStore.delete  # StoredByDigest's, over Django's cached_db: both end in _delete_stored
    adelete = DBStore.adelete

    def _delete_stored(self, stored: str) -> None:
        self._delete_copy(self.cache_key_prefix + stored)
        DBStore._delete_stored(self, stored)
        self._delete_copy(self.cache_key_prefix + stored)

    async def _adelete_stored(self, stored: str) -> None:
        await sync_to_async(self._delete_copy)(self.cache_key_prefix + stored)
        await DBStore._adelete_stored(self, stored)
        await sync_to_async(self._delete_copy)(self.cache_key_prefix + stored)

    def _delete_copy(self, cache_key) -> None:
        """Delete the cached copy, on a replica too before it counts (accounts.replication):
        a failover must not bring back a copy of a session whose row is gone."""
        with replicated(self._cache) as target:
            self._cache.delete(cache_key, **target)

    # The cache is an accelerator here: a failure to read or write it is logged, and the
    # database answers. Deletes are the exception (above): they must reach the cache.

    @staticmethod
    def _from_cache(read, *args):
        try:
            return read(*args)
        except Exception:  # noqa: BLE001  (any cache failure: read the database)
            logger.warning("Session cache unavailable; reading the database", exc_info=True)
            return None

    @staticmethod
    async def _afrom_cache(read, *args):
        try:
            return await read(*args)
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; reading the database", exc_info=True)
            return None

    @staticmethod
    def _to_cache(write, *args):
        """Write; return what the cache answered, False if it could not be reached."""
        try:
            return write(*args)
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; not caching", exc_info=True)
            return False

    @staticmethod
    async def _ato_cache(write, *args):
        try:
            return await write(*args)
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; not caching", exc_info=True)
            return False
