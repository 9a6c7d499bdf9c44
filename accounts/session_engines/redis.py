"""Django's cache session store on Redis, where an outage is an error, not a logout."""

from django.contrib.sessions.backends import cache
from django.contrib.sessions.backends.base import CreateError, UpdateError


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

    def save(self, must_create=False):
        """Write only if the key is absent (create) or still present (update), atomically.

        Django checks with a GET and then SETs; a session revoked between the two would be
        written back. Redis's SET NX / SET XX make the check and the write one step.
        """
        if self.session_key is None:
            return self.create()
        written = self._cache.set(
            self.cache_key,
            self._get_session(no_load=must_create),
            self.get_expiry_age(),
            nx=must_create,
            xx=not must_create,
        )
        if not written:
            raise CreateError if must_create else UpdateError
