"""Django's cache session store on Redis, where an outage is an error, not a logout."""

from django.contrib.sessions.backends import cache


class SessionStore(cache.SessionStore):
    """Load sessions without swallowing cache errors.

    Django's `load()` treats any cache exception as "no session" (for memcached's invalid
    keys, ticket #17810). During a Redis outage every user would then silently look logged
    out, and logging in would fail deep inside key creation. Letting the error through
    gives a clear 503 page at once (authdemo.views.server_error).
    """

    def load(self):
        session_data = self._cache.get(self.cache_key)
        if session_data is not None:
            return session_data
        self._session_key = None
        return {}
