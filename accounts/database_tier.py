"""A per-process copy of database sessions, invalidated by PostgreSQL itself.

The same local tier as accounts.local_tier (the copies, their bound and lifetime, the
generation counter that keeps an old read from overwriting the news of a change), with
PostgreSQL's LISTEN/NOTIFY as the channel instead of Redis's key tracking:

- Triggers on Django's session table (migration accounts.0006) send a notification on
  channel `authdemo_session_changed` for every session row that is updated or deleted,
  by anyone (this site, the admin, `clearsessions`, psql), and "*" (every copy) when the
  table is truncated or one statement changes more than 100 rows (a bulk delete).
  PostgreSQL delivers a notification when its transaction commits, and in commit order.
  The payload is the SHA-256 of the session key, never the key: any role that can connect
  to the database may LISTEN.
- One listener connection per process LISTENs on that channel. Every quarter of
  LOCAL_TIER_BOUND it sends itself a heartbeat on a channel of its own; a copy is served
  only until LOCAL_TIER_BOUND after the last heartbeat that came back. A heartbeat comes
  back after every notification committed before it, so no copy is served more than
  LOCAL_TIER_BOUND seconds after a change, even when the connection hangs silently. A lost
  connection drops every copy at once; reads go to the database until it is back.
- Every copy lives at most LOCAL_TIER_MAX_AGE, and never past the session's expiry.
- Only on PostgreSQL (`enabled`): SQLite has no notifications.
"""

from __future__ import annotations

import hashlib
import os
import threading

import psycopg
from django.conf import settings
from django.db import connections

from accounts import local_tier
from accounts.local_tier import MISSING, ChannelLost, LocalTier

CHANNEL = "authdemo_session_changed"
EVERYTHING = "*"
TABLE = "django_session"
TRIGGERS = ("authdemo_sessions_updated", "authdemo_sessions_deleted", "authdemo_sessions_truncated")  # accounts.0006
TRIGGERS_ON = "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = ANY(%s) AND tgenabled <> 'D'"
HEARTBEAT = f"SELECT pg_notify(%s, '') WHERE ({TRIGGERS_ON}) = %s"  # noqa: S608  (constants only)


def digest(session_key: str) -> str:
    """The name a session has on the channel: the hex SHA-256 of its key (the trigger's)."""
    return hashlib.sha256(session_key.encode()).hexdigest()


class DatabaseTier(LocalTier):
    """The copies of one database's session rows in this process, and their listener."""

    name = "database tier"
    store = "the database"

    def read_session(self, alias: str, session_key: str, fetch, *, keep: bool) -> object:
        """A session: the local copy, or `fetch()`, which returns (the session, seconds until
        it expires) or (None, None) from the database, kept as the copy only if `keep`.

        The caller keeps nothing read inside a transaction: it may see its own uncommitted
        writes (a rollback sends no notification) or an older snapshot than a notification
        already applied.
        """
        name = digest(session_key)
        value = self.get(alias, name)
        if value is not MISSING:
            return value
        generation = self._generation
        value, ttl = fetch()
        return self._kept(alias, name, value, generation, ttl) if keep else value

    @staticmethod
    def _thaw(alias: str, payload: bytes) -> bytes:  # noqa: ARG004  (the store parses the payload itself)
        return payload

    def forget(self, session_key: str) -> None:
        """Drop this process's copy of a session now (after writing it), not when told."""
        self._invalidate([digest(session_key)])

    @staticmethod
    def _owner_of(alias: str) -> tuple:
        settings_dict = connections[alias].settings_dict
        return (os.getpid(), alias, settings_dict["NAME"], settings_dict["HOST"], settings_dict["PORT"])

    def _listener_arguments(self, alias: str) -> tuple:
        """The parameters Django itself would connect with, taken now (as Redis's pool is),
        for a connection of the listener's own:

        - `synchronous_commit=off`: a heartbeat is a transaction (NOTIFY), which need not wait
          for a disk flush; notifications are ordered by the queue, not by durability;
        - `tcp_user_timeout`: a heartbeat sent into a silently dead connection fails within
          seconds instead of TCP's quarter of an hour, so the listener reconnects.
        """
        parameters = dict(connections[alias].get_connection_params())
        options = f"{parameters.get('options', '')} -c synchronous_commit=off".strip()
        timeout_ms = int(max(4 * settings.LOCAL_TIER_BOUND, 2) * 1000)
        return ({**parameters, "options": options, "tcp_user_timeout": timeout_ms, "autocommit": True},)

    @staticmethod
    def _open(parameters: dict):
        return psycopg.connect(**parameters)

    @staticmethod
    def _close(connection) -> None:
        connection.close()

    def _listen(self, connection, stop: threading.Event, parameters: dict) -> None:  # noqa: ARG002
        backend = connection.info.backend_pid
        if connection.execute("SELECT pg_backend_pid()").fetchone()[0] != backend:
            # A transaction- or statement-mode pooler (PgBouncer) answers with its own pid and
            # may route LISTEN, NOTIFY and the heartbeat to different servers' sessions.
            raise ChannelLost("the listener is not connected to PostgreSQL directly (a pooler?)")
        if connection.execute(TRIGGERS_ON, [TABLE, list(TRIGGERS)]).fetchone()[0] != len(TRIGGERS):
            raise ChannelLost("the session triggers (migration accounts.0006) are missing or disabled")
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
                    self._invalidate(None if notify.payload == EVERYTHING else [notify.payload])
            return answered

        def send_heartbeat() -> None:
            # Sent only while the triggers that report changes exist and are enabled: without
            # them (not migrated, DISABLE TRIGGER) no heartbeat comes back, and no copy is served.
            connection.execute(HEARTBEAT, [heartbeat, TABLE, list(TRIGGERS), len(TRIGGERS)])

        self._keep_alive(backend, stop, send_heartbeat, receive)


def enabled(alias: str) -> bool:
    """Whether session reads of database `alias` go through the tier (LOCAL_TIER=on, PostgreSQL)."""
    return settings.LOCAL_TIER == "on" and connections[alias].vendor == "postgresql"


def forget(alias: str, session_key: str) -> None:
    """Drop this process's copy of a session of database `alias`, if it keeps one."""
    if enabled(alias):
        tier(alias).forget(session_key)


def tier(alias: str) -> DatabaseTier:
    """This process's tier for database `alias`."""
    return local_tier.tier(alias, DatabaseTier)


def close_all() -> None:
    """Stop every database listener of this process (a test run does, before it drops its database)."""
    local_tier.close_all(DatabaseTier)
