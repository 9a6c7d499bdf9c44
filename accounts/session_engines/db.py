"""Django's database sessions, stored under the SHA-256 of their keys, refusing keys Django
would never make.

The plain engine: every read and write is Django's, with the key mapped to its digest where
the row is read or written (accounts.models.HashedSession). With LOCAL_TIER=on on PostgreSQL
the site configures copies.postgres_sessions instead, which adds this process's copies of the
rows on top of this class.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils import timezone

from accounts.session_engines.keys import StoredByDigest, stored_key

KEY_CHARACTERS = frozenset(VALID_KEY_CHARS)


class DjangoKeysOnly:
    """For a store that looks keys up in the database: Django's rule (at least 8 characters),
    and only the characters Django makes keys of. A cookie can carry anything, and PostgreSQL
    refuses a NUL in a text parameter (an error, where a key that matches nothing means "no
    session")."""

    def _validate_session_key(self, key):
        return super()._validate_session_key(key) and frozenset(key) <= KEY_CHARACTERS


class SessionStore(StoredByDigest, DjangoKeysOnly, db.SessionStore):
    """Django's db store on accounts.HashedSession: the row's key is the SHA-256 of the
    cookie's key, so a dump of the table authenticates nobody. Django's own session tests run
    against it (tests/accounts/test_session_engines_django.py)."""

    @classmethod
    def get_model_class(cls):
        from accounts.models import HashedSession  # as Django's: the app registry is ready by now

        return HashedSession

    def _live(self):
        return self.model.objects.filter(session_key=stored_key(self.session_key), expire_date__gt=timezone.now())

    def _get_session_from_db(self):
        if self.session_key is not None:
            try:
                return self._live().get()
            except self.model.DoesNotExist:
                pass
        self._session_key = None  # as Django's: a missing or expired session gets a new key

    async def _aget_session_from_db(self):
        if self.session_key is not None:
            try:
                return await self._live().aget()
            except self.model.DoesNotExist:
                pass
        self._session_key = None

    def exists(self, session_key):
        return bool(session_key) and self.model.objects.filter(session_key=stored_key(session_key)).exists()

    async def aexists(self, session_key):
        return bool(session_key) and await self.model.objects.filter(session_key=stored_key(session_key)).aexists()

    def create_model_instance(self, data):
        row = super().create_model_instance(data)
        row.session_key = stored_key(row.session_key)
        return row

    async def acreate_model_instance(self, data):
        row = await super().acreate_model_instance(data)
        row.session_key = stored_key(row.session_key)
        return row

    def _delete_stored(self, stored: str) -> None:
        self.model.objects.filter(session_key=stored).delete()

    async def _adelete_stored(self, stored: str) -> None:
        await self.model.objects.filter(session_key=stored).adelete()
