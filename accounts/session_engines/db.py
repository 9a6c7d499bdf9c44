"""Django's database sessions, with the read that every request makes kept lean, and on
PostgreSQL served from this process's copy (accounts.database_tier)."""

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.db import connections, router
from django.utils import timezone

from accounts import database_tier


class DjangoKeysOnly:
    """For a store that looks keys up in the database: Django's rule (at least 8 characters),
    and only the characters Django makes keys of. A cookie can carry anything, and PostgreSQL
    refuses a NUL in a text parameter (an error, where a key that matches nothing means "no
    session")."""

    def _validate_session_key(self, key):
        return super()._validate_session_key(key) and frozenset(key) <= KEY_CHARACTERS


class SessionStore(DjangoKeysOnly, db.SessionStore):
    """Django's db store, reading the session row with one ready-made statement.

    Every request of a logged-in user reads its session. Django's `load()` builds that read
    as a QuerySet each time (a filter tree, a compiler, a model instance), and that building
    costs several times what the database takes to answer (about 1.1 ms of 1.5 ms here).
    Here the statement is written once per database from the model's own table and column
    names, and the time is adapted by the model's own field, so it means exactly what
    `objects.get(session_key=..., expire_date__gt=now)` means. Only for Django's own Session
    model on PostgreSQL, SQLite and MySQL (`_reads_directly`); elsewhere it is Django's
    load().

    On PostgreSQL with LOCAL_TIER=on, load() serves this process's copy of the row while
    PostgreSQL's notifications can say it changed (accounts.database_tier); save() and
    delete() drop this process's copy at once. Everything else (create, exists,
    clear_expired) is Django's. Django's own session tests run against this class
    (tests/accounts/test_session_engines_django.py), inside transactions, where no copy is
    kept; the copies are tested in tests/accounts/test_database_tier.py.
    """

    def load(self):
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        if not self._reads_directly(connection):
            return super().load()
        if self.session_key is not None and _copies_on(self.model, alias):
            # The copy is the session as checked, serialized data: checking the signature is most
            # of a read served locally, and each request parses its own objects from the copy,
            # so no request can change what another one reads. Nothing read inside a
            # transaction is kept (DatabaseTier.read_session); that is asked of the settings,
            # since a copy served from memory needs no connection.
            keep = connection.settings_dict["AUTOCOMMIT"] and not connection.in_atomic_block
            payload = database_tier.tier(alias).read_session(
                alias, self.session_key, lambda: self._checked(connection), keep=keep
            )
            session = None if payload is None else self.serializer().loads(payload)
        else:
            data = self._read_session_row(connection)[0]
            session = None if data is None else self.decode(data)
        if session is None:
            self._session_key = None  # as Django's: a missing or expired session gets a new key
            return {}
        return session

    async def aload(self):
        return await sync_to_async(self.load)()

    def _reads_directly(self, connection) -> bool:
        """Only Django's own Session model, on a database whose text columns come back as str.

        A custom session model may have its own manager or converting fields (which this
        read would bypass), and Oracle returns a text column as a LOB: those keep Django's
        query.
        """
        return self.model._meta.label == "sessions.Session" and connection.vendor in DIRECT_VENDORS

    def _checked(self, connection) -> tuple[bytes | None, float | None]:
        """For the local tier: the session, decoded (its signature checked) and serialized
        again, and the seconds until it expires (PostgreSQL gives an aware datetime); or
        (None, None)."""
        data, expire_date = self._read_session_row(connection)
        if data is None:
            return None, None
        return self.serializer().dumps(self.decode(data)), (expire_date - timezone.now()).total_seconds()

    def _read_session_row(self, connection) -> tuple[str | None, object]:
        """The stored data of this session and its expiry as the database driver returns
        it, if it exists and has not expired; else (None, None)."""
        if self.session_key is None:
            return None, None
        now = self.model._meta.get_field("expire_date").get_db_prep_value(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(_select_statement(self.model, connection), [self.session_key, now])
            row = cursor.fetchone()
        return (None, None) if row is None else row

    # Writes: this process forgets its copy at once, after Django's own transaction has
    # committed; PostgreSQL tells the others, and this one again, when it commits. A row
    # written some other way (psql, Session.objects.save) reaches every process that way.
    def save(self, must_create=False):
        super().save(must_create)
        self._forget_local_copy(self.session_key)

    async def asave(self, must_create=False):
        await super().asave(must_create)
        self._forget_local_copy(self.session_key)

    def delete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        self._forget_local_copy(key)

    async def adelete(self, session_key=None):
        key = session_key if session_key is not None else self.session_key
        await super().adelete(session_key)
        self._forget_local_copy(key)

    def _forget_local_copy(self, session_key) -> None:
        if session_key is not None:
            database_tier.forget(router.db_for_write(self.model), session_key)


def serves_local_copies() -> bool:
    """Whether this process is set to keep copies of database sessions (for /compare/); its
    listener still drops them while the triggers are missing or disabled, or behind a pooler."""
    model = SessionStore.get_model_class()
    return _copies_on(model, router.db_for_read(model))


def _copies_on(model, alias: str) -> bool:
    """Whether reads of `alias` come from this process's copy while PostgreSQL can say it
    changed (accounts.database_tier): only on the database sessions are also written to,
    since a standby can neither LISTEN nor see a write before its primary has it."""
    return database_tier.enabled(alias) and router.db_for_write(model) == alias


KEY_CHARACTERS = frozenset(VALID_KEY_CHARS)
DIRECT_VENDORS = frozenset({"postgresql", "sqlite", "mysql"})
_statements: dict[tuple[type, str], str] = {}


def _select_statement(model, connection) -> str:
    """SELECT session_data, expire_date of one unexpired session, quoted for `connection`'s database.

    Only the model's own table and column names are put in the text, quoted by the
    backend; the key and the time are always parameters.
    """
    key = (model, connection.alias)
    if key not in _statements:
        meta, quote = model._meta, connection.ops.quote_name
        data, session_key, expire_date = (
            quote(meta.get_field(name).column) for name in ("session_data", "session_key", "expire_date")
        )
        table = quote(meta.db_table)
        _statements[key] = f"SELECT {data}, {expire_date} FROM {table} WHERE {session_key} = %s AND {expire_date} > %s"  # noqa: S608
    return _statements[key]
