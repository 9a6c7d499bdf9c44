"""Django's cached_db sessions, serving from the database while Redis is down."""

import logging

from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.db import SessionStore as DBStore

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(cached_db.SessionStore):
    """cached_db that survives a cache outage and never lets a revoked session come back.

    - load: when the cache cannot be read or written, the database answers alone, so
      logged-in users stay logged in (Django's own load() fails on the cache write-back).
    - exists: the cache first, as Django's, then the database; a cache that cannot be read
      leaves the answer to the database. A cached copy only ever exists beside its row
      (delete removes it first), so "found in the cache" never revives a revoked session.
    - delete: the cached copy goes first. If the cache cannot be reached the delete fails
      as a whole, so the database row is not removed while a stale cached copy may
      survive to authenticate the session again once the cache is back.

    Every sync method has its async twin with the same guarantees; save/asave, create,
    cycle_key and flush are Django's, built on these.
    """

    def load(self):
        data = self._from_cache(self._cache.get, self.cache_key)
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        self._to_cache(self._cache.set, self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
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
        await self._ato_cache(self._cache.aset, cache_key, data, age)
        return data

    def exists(self, session_key):
        if not session_key:
            return False
        return bool(self._from_cache(self._cache.has_key, self.cache_key_prefix + session_key)) or DBStore.exists(
            self, session_key
        )

    async def aexists(self, session_key):
        if not session_key:
            return False
        cached = await self._afrom_cache(self._cache.ahas_key, self.cache_key_prefix + session_key)
        return bool(cached) or await DBStore.aexists(self, session_key)

    def delete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            self._cache.delete(self.cache_key_prefix + key)
        DBStore.delete(self, session_key)

    async def adelete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            await self._cache.adelete(self.cache_key_prefix + key)
        await DBStore.adelete(self, session_key)

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
        try:
            write(*args)
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; not caching", exc_info=True)

    @staticmethod
    async def _ato_cache(write, *args):
        try:
            await write(*args)
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; not caching", exc_info=True)
