"""Django's database sessions, refusing keys Django would never make.

The plain engine: every read and write is Django's. With LOCAL_TIER=on on PostgreSQL the
site configures copies.postgres_sessions instead, which adds this process's copies of the
rows on top of this class.
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

KEY_CHARACTERS = frozenset(VALID_KEY_CHARS)


class DjangoKeysOnly:
    """For a store that looks keys up in the database: Django's rule (at least 8 characters),
    and only the characters Django makes keys of. A cookie can carry anything, and PostgreSQL
    refuses a NUL in a text parameter (an error, where a key that matches nothing means "no
    session")."""

    def _validate_session_key(self, key):
        return super()._validate_session_key(key) and frozenset(key) <= KEY_CHARACTERS


class SessionStore(DjangoKeysOnly, db.SessionStore):
    """Django's db store. Django's own session tests run against it
    (tests/accounts/test_session_engines_django.py)."""
