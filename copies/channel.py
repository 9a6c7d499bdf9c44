"""The copies one process keeps of a store's values, and the listener that keeps them honest.

Shared by copies.redis_cache (Redis's key tracking) and copies.postgres_sessions
(PostgreSQL's LISTEN/NOTIFY); each subclass says how to open, listen to and close its
`source`'s invalidation channel, and this class does the rest:

- A copy is served only while the channel is known to be alive: the listener sends a
  heartbeat every quarter of LOCAL_TIER_BOUND seconds, and copies are served only until
  LOCAL_TIER_BOUND after the last heartbeat that was answered. The store answers a heartbeat
  after every invalidation it queued before it, so no copy is served more than
  LOCAL_TIER_BOUND seconds after a change, even when the connection hangs silently. A lost
  channel drops every copy at once; reads go to the store until the listener is back.
- Every copy lives at most LOCAL_TIER_MAX_AGE, and never past the lifetime the store gives it.
- A value read from the store is kept only if no invalidation arrived while it was in
  flight (a generation counter), so an old value never overwrites the news of a change.
- An outage is logged once when the channel is lost and once when it is back; reconnects
  back off (doubling, up to RECONNECT_MAX_DELAY).
- `restart()` (the source moved, e.g. a new Redis primary) drops every copy and has the
  listener reconnect; no copy is served until the new channel answers a heartbeat.
- One instance per process and source (`shared`): Django builds a cache backend per thread,
  and a forked worker must start its own listener, not inherit a thread that does not run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable

from django.conf import settings

logger = logging.getLogger(__name__)

MAX_ENTRIES = 100_000
RECONNECT_MAX_DELAY = 5.0  # seconds between reconnect attempts during a long outage, at most
MISSING = object()


class ChannelLost(Exception):
    """The invalidation channel cannot be trusted (no answer within the bound, or unusable)."""


def reconnect_delay(failures: int) -> float:
    """Seconds to wait before reconnect attempt number `failures` + 1 of one outage."""
    return min(settings.LOCAL_TIER_BOUND / 4 * 2 ** max(failures - 1, 0), RECONNECT_MAX_DELAY)


class Copies:
    """This process's copies of one source's values, and the thread listening to the source.

    Subclasses implement `_open()`, `_listen(connection, stop)` and `_close(connection)`,
    and call `_keep_alive()` from `_listen()` once the channel listens.
    """

    label = "copies"  # in the log and the listener thread's name
    store = "the store"  # where reads go while the channel is down, for the log

    def __init__(self, source_name: str):
        self.source_name = source_name
        self.failures = 0  # consecutive failed connections of the current outage
        self.connection_id: object = None  # the listener's connection, once it listens
        self._entries: dict[str, tuple[object, float]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._fresh_until = 0.0  # time.monotonic() until which the channel is known alive
        self._stop = threading.Event()
        self._restart = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the listener thread (once)."""
        name = f"{self.label.replace(' ', '-')}-{self.source_name}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the listener (it closes its connection), forget every copy, leave the registry."""
        with self._lock:
            self._stop.set()
            self._fresh_until = 0.0
            self._generation += 1
            self._entries.clear()
        with _registry_lock:
            for key in [key for key, found in _registry.items() if found is self]:
                del _registry[key]

    # -- the copies ----------------------------------------------------------------------

    def get(self, key: str) -> object:
        """The kept value of `key` while the channel is fresh and the copy alive, or MISSING."""
        if time.monotonic() > self._fresh_until:
            return MISSING
        entry = self._entries.get(key)
        if entry is None or entry[1] <= time.time():
            return MISSING
        return entry[0]

    @property
    def generation(self) -> int:
        """Take before reading the store; pass to keep() with what was read."""
        return self._generation

    def keep(self, key: str, value: object, generation: int, ttl: float | None) -> None:
        """Keep `value` of `key` for at most `ttl` seconds (None: the store gives no expiry),
        unless something was invalidated since `generation` or the channel is down."""
        lifetime = settings.LOCAL_TIER_MAX_AGE if ttl is None else min(ttl, settings.LOCAL_TIER_MAX_AGE)
        with self._lock:
            if generation != self._generation or time.monotonic() > self._fresh_until:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (value, time.time() + lifetime)

    def drop(self, keys: Iterable[str] | None) -> None:
        """Forget the copies of `keys` (None: every copy) now."""
        with self._lock:
            self._generation += 1
            if keys is None:
                self._entries.clear()
            else:
                for key in keys:
                    self._entries.pop(key, None)

    def restart(self) -> None:
        """Forget every copy now and have the listener open its channel again (the source it
        listens to is no longer the one to trust); copies resume once the new one answers."""
        with self._lock:
            self._restart.set()
            self._fresh_until = 0.0
            self._generation += 1
            self._entries.clear()

    # -- the listener ----------------------------------------------------------------------

    def _open(self):
        raise NotImplementedError

    def _listen(self, connection, stop: threading.Event) -> None:
        raise NotImplementedError

    def _close(self, connection) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        """The listener thread: open the channel, listen until it fails, then reconnect."""
        stop = self._stop
        while not stop.is_set():
            connection = None
            self._restart.clear()  # the channel about to open asks where the source is now
            try:
                connection = self._open()
                self._listen(connection, stop)
            except Exception as exc:  # noqa: BLE001  (whatever it was: the copies go, the listener comes back)
                if not stop.is_set():
                    self._lost(str(exc).strip() or type(exc).__name__)
            finally:
                if connection is not None:
                    self._close(connection)
            stop.wait(reconnect_delay(self.failures))

    def _keep_alive(
        self,
        connection_id: object,
        stop: threading.Event,
        send_heartbeat: Callable[[], None],
        receive: Callable[[float], bool],
    ) -> None:
        """Once the channel listens: forget every copy read before, then keep the heartbeat.

        `send_heartbeat()` sends one; `receive(timeout)` applies what arrives within `timeout`
        seconds and says whether it was the heartbeat's answer.
        """
        self.drop(None)  # nothing read before listening began may be kept
        self.connection_id = connection_id
        bound = settings.LOCAL_TIER_BOUND
        sent_at, answered = 0.0, True
        while not stop.is_set():
            now = time.monotonic()
            if answered and now - sent_at >= bound / 4:
                send_heartbeat()
                sent_at, answered = now, False
            elif not answered and now - sent_at > bound:
                raise ChannelLost(f"no answer to a heartbeat within {bound} s")
            if self._restart.is_set():
                raise ChannelLost("the source moved")
            if receive(bound / 8):
                answered = True
                with self._lock:  # a restart() since the heartbeat went out wins
                    if self._restart.is_set():
                        continue
                    if not self._fresh_until:
                        self._restored()  # back when a heartbeat is answered, not when connected
                    self._fresh_until = sent_at + bound

    def _lost(self, reason: str) -> None:
        with self._lock:
            self._fresh_until = 0.0
            self._generation += 1
            self._entries.clear()
        self.failures += 1
        if self.failures == 1:  # once per outage, not once per reconnect attempt
            logger.warning(
                "%s of %s: invalidation channel lost (%s); reading %s until it is back",
                self.label,
                self.source_name,
                reason,
                self.store,
            )

    def _restored(self) -> None:
        if self.failures:
            logger.info(
                "%s of %s: invalidation channel back after %d failed attempts",
                self.label,
                self.source_name,
                self.failures,
            )
        self.failures = 0


_registry: dict[tuple, Copies] = {}
_registry_lock = threading.Lock()


def shared(key: Hashable, build: Callable[[], Copies]) -> Copies:
    """This process's copies for `key` (what identifies the source), built and started once."""
    full_key = (os.getpid(), key)
    found = _registry.get(full_key)
    if found is None:
        with _registry_lock:
            found = _registry.get(full_key)
            if found is None:
                found = _registry[full_key] = build()
                found.start()
    return found


def close_all(kind: type[Copies], *, wait: bool = True) -> None:
    """Stop every listener of `kind` in this process and forget its copies; with `wait`, wait
    until each has closed its connection (a test run does, before it drops its database)."""
    for found in [found for found in list(_registry.values()) if isinstance(found, kind)]:
        found.close()
        if wait and found._thread is not None:
            found._thread.join(timeout=settings.LOCAL_TIER_BOUND + 5)
