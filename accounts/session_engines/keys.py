"""The name a session is stored under: the SHA-256 of its key, never the key itself.

The cookie carries the key; every server-side store (the database table, the registry,
Redis) keeps only this digest, so a dump of any of them holds nothing a browser could send
back. A session key is 32 random characters (about 165 bits), so one unsalted SHA-256 is
enough: there is nothing to guess (bench/secrets_cost.py times it). No Django import: the
bench, the tests and the migrations use it too.
"""

import hashlib

STORED_KEY_LENGTH = 64  # hex SHA-256


def stored_key(session_key: str) -> str:
    """Return the hex SHA-256 of `session_key`: what a store keeps in place of the key."""
    return hashlib.sha256(session_key.encode()).hexdigest()


class StoredByDigest:
    """For a session store that keeps each session under the SHA-256 of its key.

    Django's stores use the cookie's key (`self.session_key`) everywhere; these map it to the
    stored key at the storage boundary. `delete_stored(stored)` ends a session known only by
    its stored key, as the registry (accounts.models.UserSession) records it: the way to
    revoke a session through its engine. Each store implements `_delete_stored` and its
    async twin; `delete(session_key)` is Django's contract on top of them.
    """

    @classmethod
    def delete_stored(cls, stored: str) -> None:
        """End the session stored under `stored` (a hex SHA-256), wherever this engine keeps it."""
        cls()._delete_stored(stored)

    @classmethod
    async def adelete_stored(cls, stored: str) -> None:
        """See delete_stored()."""
        await cls()._adelete_stored(stored)

    def delete(self, session_key=None):
        key = self.session_key if session_key is None else session_key
        if key is not None:
            self._delete_stored(stored_key(key))

    async def adelete(self, session_key=None):
        key = self.session_key if session_key is None else session_key
        if key is not None:
            await self._adelete_stored(stored_key(key))


class HashedCacheKeys:
    """For a store with a cache: the cache key is the prefix and the SHA-256 of the key
    (`django.contrib.sessions.cache<sha256>`), so a dump of the cache lists no cookie."""

    def cache_key_of(self, session_key: str) -> str:
        return self.cache_key_prefix + stored_key(session_key)

    @property
    def cache_key(self) -> str:
        return self.cache_key_of(self._get_or_create_session_key())

    async def acache_key(self) -> str:
        return self.cache_key_of(await self._aget_or_create_session_key())
