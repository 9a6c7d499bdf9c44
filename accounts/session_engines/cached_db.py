"""Django's cached_db sessions, serving from the database while Redis is down."""

import logging

from django.contrib.sessions.backends import cached_db

logger = logging.getLogger("django.contrib.sessions")


class SessionStore(cached_db.SessionStore):
    """cached_db that survives a cache outage and never lets a revoked session come back.

    - load: when the cache cannot be read or written, the database answers alone, so
      logged-in users stay logged in (Django's own load() fails on the cache write-back).
    - delete: the cached copy goes first. If the cache cannot be reached the delete fails
      as a whole, so the database row is not removed while a stale cached copy may
      survive to authenticate the session again once the cache is back.
    """

    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # noqa: BLE001  (any cache failure: read the database)
            logger.warning("Session cache unavailable; reading the database", exc_info=True)
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:  # noqa: BLE001
            logger.warning("Session cache unavailable; not caching", exc_info=True)
        return data

    def exists(self, session_key):
        return bool(session_key) and self.model.objects.filter(session_key=session_key).exists()

    def delete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            self._cache.delete(self.cache_key_prefix + key)
        super(cached_db.SessionStore, self).delete(session_key)
