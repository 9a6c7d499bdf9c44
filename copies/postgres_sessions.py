"""Database sessions with this process's copies of their rows, invalidated by PostgreSQL.

A session engine (SESSION_ENGINE = "copies.postgres_sessions"): the project's db engine
(accounts.session_engines.db), whose load() serves this process's copy of the session while
PostgreSQL's LISTEN/NOTIFY can say it changed (copies.channel holds the rules: the bound,
the lifetime, the generation counter):

- Triggers on the session table, accounts.HashedSession (migration accounts.0007, as 0006
  made them on Django's table before), send a notification on channel
  `authdemo_session_changed` for every session row that is updated or deleted, by anyone
  (this site, the admin, `clearsessions`, psql), and "*" (every copy) when the table is
  truncated or one statement changes more than 100 rows (a bulk delete). PostgreSQL
  delivers a notification when its transaction commits, and in commit order. The payload
  is the row's key, which is the SHA-256 of the session key (never the key: any role that
  can connect to the database may LISTEN); the copies are kept under that name too.
- One listener connection per process LISTENs on that channel and sends itself a heartbeat
  on a channel of its own, only while the triggers exist and are enabled; it refuses to
  listen through a transaction pooler, which may route LISTEN and NOTIFY apart.
- Copies apply only on PostgreSQL, for the project's session table, on the database sessions
  are written to (a standby can neither LISTEN nor see a write before its primary).
  Elsewhere this engine is the db engine. Nothing read inside a transaction is kept: it may
  be the transaction's own uncommitted write (a rollback sends no notification).
"""

from __future__ import annotations

import threading

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections, router
from django.utils import timezone

from accounts.session_engines import db
from accounts.session_engines.keys import stored_key
from copies import channel
from copies.channel import MISSING, ChannelLost, Copies

CHANNEL = "authdemo_session_changed"
EVERYTHING = "*"
TABLE = "accounts_hashedsession"
TRIGGERS = ("authdemo_sessions_updated", "authdemo_sessions_deleted", "authdemo_sessions_truncated")  # accounts.0007
TRIGGERS_ON = "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = ANY(%s) AND tgenabled <> 'D'"
HEARTBEAT = f"SELECT pg_notify(%s, '') WHERE ({TRIGGERS_ON}) = %s"  # noqa: S608  (constants only)


class SessionStore(db.SessionStore):
    """The db engine; load() serves this process's copy of the session while PostgreSQL can
    say it changed, and save() and delete() (delete_stored() too) drop this process's copy at
    once (PostgreSQL tells the others, and this one again, when the write commits). A copy is
    named by the row's key, the SHA-256 of the session key, as the channel names it."""

    def load(self):
        alias = router.db_for_read(self.model)
        if self.session_key is None or not copies_apply(self.model, alias):
            return super().load()
        # The copy is the session as checked, serialized again: checking the signature is most
        # of a read served locally, and each request parses its own objects from the copy, so
        # no request can change what another one reads.
        copies, name = session_copies(alias), stored_key(self.session_key)
        payload = copies.get(name)
        if payload is MISSING:
            generation = copies.generation
            payload, ttl = self._read_checked()
            connection = connections[alias]  # asked of the settings: a copy served needs no connection
            if payload is not None and connection.settings_dict["AUTOCOMMIT"] and not connection.in_atomic_block:
                copies.keep(name, payload, generation, ttl)
        if payload is None:
            self._session_key = None  # as Django's: a missing or expired session gets a new key
            return {}
        return self.serializer().loads(payload)

    async def aload(self):
        return await sync_to_async(self.load)()

    def _read_checked(self) -> tuple[bytes | None, float | None]:
        """The session read by Django, decoded (its signature checked) and serialized again,
        and the seconds until it expires; or (None, None)."""
        row = self._get_session_from_db()
        if row is None:
            return None, None
        return self.serializer().dumps(self.decode(row.session_data)), (
            row.expire_date - timezone.now()
        ).total_seconds()

    def save(self, must_create=False):
        super().save(must_create)
        self._forget(stored_key(self.session_key))

    async def asave(self, must_create=False):
        await super().asave(must_create)
        self._forget(stored_key(self.session_key))

    def _delete_stored(self, stored: str) -> None:
        super()._delete_stored(stored)
        self._forget(stored)

    async def _adelete_stored(self, stored: str) -> None:
        await super()._adelete_stored(stored)
        self._forget(stored)

    def _forget(self, stored: str) -> None:
        alias = router.db_for_write(self.model)
        if copies_apply(self.model, alias):
            session_copies(alias).drop([stored])


def copies_apply(model, alias: str) -> bool:
    """Whether reads of `model` on database `alias` can be served from copies (see the module)."""
    return (
        connections[alias].vendor == "postgresql"
        and model._meta.db_table == TABLE
        and router.db_for_write(model) == alias
    )


def serves_copies() -> bool:
    """Whether this engine keeps copies here (for /compare/); its listener still drops them
    while the triggers are missing or disabled, or behind a pooler."""
    model = SessionStore.get_model_class()
    return copies_apply(model, router.db_for_read(model))


class SessionCopies(Copies):
    """The copies of one database's session rows in this process, and their listener."""

    label = "session copies"
    store = "the database"

    def __init__(self, alias: str, parameters: dict):
        """`parameters`: what Django itself would connect to `alias` with, taken now (the
        thread must not look the alias up later, when the configuration may be another)."""
        super().__init__(alias)
        self.parameters = parameters

    def _open(self):
        return psycopg.connect(**self.parameters)

    def _close(self, connection) -> None:
        connection.close()

    def _listen(self, connection, stop: threading.Event) -> None:
        backend = connection.info.backend_pid
        if connection.execute("SELECT pg_backend_pid()").fetchone()[0] != backend:
            # A transaction- or statement-mode pooler (PgBouncer) answers with its own pid and
            # may route LISTEN, NOTIFY and the heartbeat to different servers' sessions.
            raise ChannelLost("the listener is not connected to PostgreSQL directly (a pooler?)")
        if connection.execute(TRIGGERS_ON, [TABLE, list(TRIGGERS)]).fetchone()[0] != len(TRIGGERS):
            raise ChannelLost("the session triggers (migration accounts.0007) are missing or disabled")
        heartbeat = f"authdemo_tier_{backend}"  # this listener's own channel
        connection.execute(f"LISTEN {CHANNEL}")
        connection.execute(f"LISTEN {heartbeat}")

        def receive(timeout: float) -> bool:
            answered = False
            for notify in connection.notifies(timeout=timeout):
                if stop.is_set():
                    break
                if notify.channel == heartbeat:
                    answered = answered or notify.pid == backend  # only our own, not a forged one
                else:
                    self.drop(None if notify.payload == EVERYTHING else [notify.payload])
            return answered

        def send_heartbeat() -> None:
            # Sent only while the triggers that report changes exist and are enabled: without
            # them (not migrated, DISABLE TRIGGER) no heartbeat comes back, and no copy is served.
            connection.execute(HEARTBEAT, [heartbeat, TABLE, list(TRIGGERS), len(TRIGGERS)])

        self._keep_alive(backend, stop, send_heartbeat, receive)


def session_copies(alias: str) -> SessionCopies:
    """This process's copies of database `alias`'s sessions (one listener each)."""
    settings_dict = connections[alias].settings_dict
    identity = (SessionCopies, alias, settings_dict["NAME"], settings_dict["HOST"], settings_dict["PORT"])
    return channel.shared(identity, lambda: SessionCopies(alias, listener_parameters(alias)))


def listener_parameters(alias: str) -> dict:
    """Django's connection parameters for `alias`, for a connection of the listener's own:

    - `synchronous_commit=off`: a heartbeat is a transaction (NOTIFY), which need not wait
      for a disk flush; notifications are ordered by the queue, not by durability;
    - `tcp_user_timeout`: a heartbeat sent into a silently dead connection fails within
      seconds instead of TCP's quarter of an hour, so the listener reconnects.
    """
    parameters = dict(connections[alias].get_connection_params())
    options = f"{parameters.get('options', '')} -c synchronous_commit=off".strip()
    timeout_ms = int(max(4 * settings.LOCAL_TIER_BOUND, 2) * 1000)
    return {**parameters, "options": options, "tcp_user_timeout": timeout_ms, "autocommit": True}


def close_all() -> None:
    """Stop every session listener of this process (a test run does, before it drops its database)."""
    channel.close_all(SessionCopies)
