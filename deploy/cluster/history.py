"""The history of a drill: every request, login and revocation it made, on one monotonic clock.

A drill proves nothing by its end state alone: a revoked session that came back for two seconds
during a failover and left again looks fine afterwards. So every request a drill makes is recorded
with when it started and ended (time.monotonic: one machine, one clock), the scheme it exercised,
the credential it carried (an id the drill chose, never the secret) and the answer; every
revocation with when it started and when it was acknowledged (or that it failed); every login
with its outcome. deploy.cluster.checker reads a whole history afterwards and says, per fault and
per scheme, what went wrong. A history is saved as JSON lines, one event a line, so a drill's run
is an artefact that can be checked again (`python -m deploy.cluster.checker FILE`).

The API the drills use (Probe, Load and Logins in deploy.cluster.drill_kit call request() and login() for you)::

    history = History()                      # one per `make drill` run; thread-safe
    h = history.under("Redis primary frozen")  # the same record, events labelled with this fault
    h.bound(JWT_CUTOFF, 1.0)                 # the stated bound B for a scheme under this fault
    h.request(JWT_CUTOFF, "bob/token-1", start=t0, end=t1, status=200)  # Retry-After: retry_after=True
    answered = h.get(JWT_CUTOFF, "bob/token-1", client, url)  # times a requests GET and records it
    ok = h.revoke(["alice/session-1", "bob/token-1"], lambda: post(...).status_code == 302, what="...")
    h.revocation(["bob/token-1"], start=t0, end=t1, acknowledged=False)  # the same, timed by you
    client = h.login(SESSION_REDIS, "alice/session-7", lambda: log_in(base, user, password))
    h.save(path); History.load(path).events

A credential id names one credential across the whole run: give each login its own
(`credential_id()` derives a short one from a secret when there is no better name). Schemes are
the comparison's keys (authdemo.measured) plus VERIFIER, the separate service of verifier/.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import requests

from authdemo.measured import JWT_CUTOFF, JWT_STATELESS, SESSION_DB, SESSION_REDIS, VERIFIER

SCHEMES = (SESSION_REDIS, SESSION_DB, JWT_STATELESS, JWT_CUTOFF, VERIFIER)
# What an answer meant. LOGGED_OUT: the credential was refused (a redirect to the login page,
# 401, 403). UNAVAILABLE: a 503 with Retry-After, the honest "not now". ERROR: anything else
# (another status, no answer, a timeout).
OK, LOGGED_OUT, UNAVAILABLE, ERROR = "ok", "logged out", "503 with Retry-After", "error"
LOGGED_OUT_STATUSES = (301, 302, 401, 403)
TIMEOUT = 10  # seconds: a bound on one hung request made through History.get
T = TypeVar("T")


def classify(status: int | None, *, retry_after: bool = False) -> str:
    """What an HTTP answer meant for the credential it carried (None: no answer at all)."""
    if status == 200:
        return OK
    if status in LOGGED_OUT_STATUSES:
        return LOGGED_OUT
    if status == 503 and retry_after:
        return UNAVAILABLE
    return ERROR


def overlaps(start: float, end: float, spans: Iterable[tuple[float, float]]) -> bool:
    """Whether a request from `start` to `end` overlapped any (since, until) of `spans`."""
    return any(start <= until and end >= since for since, until in spans)


def credential_id(secret: str, *, prefix: str = "") -> str:
    """A short id for a credential that names no secret: 12 hex digits of its SHA-256."""
    return f"{prefix}{hashlib.sha256(secret.encode()).hexdigest()[:12]}"


class History:
    """An append-only, thread-safe record of a drill's events (dicts, JSON-ready)."""

    def __init__(self, fault: str = "", *, events: list[dict] | None = None, lock: threading.Lock | None = None):
        self.fault = fault
        self._events = [] if events is None else events
        self._lock = lock or threading.Lock()

    def under(self, fault: str) -> History:
        """The same record, with every event this view adds labelled `fault`."""
        return History(fault, events=self._events, lock=self._lock)

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @property
    def events(self) -> list[dict]:
        """A copy of every event so far, in the order recorded."""
        with self._lock:
            return list(self._events)

    def add(self, kind: str, **fields) -> dict:
        event = {"kind": kind, "fault": self.fault, **fields}
        with self._lock:
            self._events.append(event)
        return event

    # -- what a drill records ------------------------------------------------------------

    def bound(self, scheme: str, seconds: float) -> None:
        """State B for `scheme` under this fault: a revoked credential may be accepted up to B
        seconds after its revocation was acknowledged (float("inf"): never revoked at all)."""
        self.add("bound", scheme=scheme, seconds=None if seconds == float("inf") else float(seconds))

    def interruption(self, *, start: float, end: float, what: str) -> None:
        """A process serving requests killed, from the signal until it was gone: a request in
        flight on it then may get no answer (nothing can save it), which the checker counts apart."""
        self.add("interruption", start=start, end=end, what=what)

    def interruptions(self) -> list[tuple[float, float]]:
        """(start, end) of each interruption recorded under this view's fault."""
        return [(e["start"], e["end"]) for e in self.events if e["kind"] == "interruption" and e["fault"] == self.fault]

    def request(self, scheme: str, credential: str, *, start: float, end: float, status: int | None,
                retry_after: bool = False, detail: str = "") -> str:  # fmt: skip
        """Record one request; return its outcome (OK, LOGGED_OUT, UNAVAILABLE or ERROR)."""
        outcome = classify(status, retry_after=retry_after)
        self.add("request", scheme=scheme, credential=credential, start=start, end=end, status=status,
                 outcome=outcome, **({"detail": detail} if detail else {}))  # fmt: skip
        return outcome

    def get(self, scheme: str, credential: str, client: requests.Session, url: str,
            *, timeout: float = TIMEOUT) -> tuple[int | None, bool]:  # fmt: skip
        """GET `url` with `client` (which carries the credential), record it; (status, Retry-After).
        No answer is status None; none within `timeout` is recorded as an error saying so."""
        start, status, retry_after, detail = self.now(), None, False, ""
        try:
            response = client.get(url, allow_redirects=False, timeout=timeout)
            status, retry_after = response.status_code, "Retry-After" in response.headers
        except requests.Timeout:
            detail = f"no answer within {timeout:g} s"
        except requests.RequestException as exc:
            detail = type(exc).__name__
        self.request(scheme, credential, start=start, end=self.now(), status=status, retry_after=retry_after,
                     detail=detail)  # fmt: skip
        return status, retry_after

    def revocation(self, credentials: Iterable[str], *, start: float, end: float, acknowledged: bool,
                   what: str = "") -> None:  # fmt: skip
        """Record a revocation of `credentials` started at `start` and answered at `end`:
        acknowledged (the user was told it is done) or failed (an error, a 503, no answer)."""
        self.add("revocation", credentials=sorted(credentials), start=start, end=end, acknowledged=acknowledged,
                 what=what)  # fmt: skip

    def revoke(self, credentials: Iterable[str], action: Callable[[], bool], *, what: str = "") -> bool:
        """Run `action` (True: the revocation was acknowledged), timed and recorded; an exception
        is recorded as a failed revocation and raised again."""
        start, acknowledged = self.now(), False
        try:
            acknowledged = bool(action())
            return acknowledged
        finally:
            self.revocation(credentials, start=start, end=self.now(), acknowledged=acknowledged, what=what)

    def login(self, scheme: str, credential: str, action: Callable[[], T]) -> T | None:
        """Run `action` (a login that returns the logged-in client, or raises), timed and
        recorded; the client, or None if the login failed."""
        start, client = self.now(), None
        try:
            client = action()
        except (requests.RequestException, RuntimeError) as exc:
            self.add("login", scheme=scheme, credential=credential, start=start, end=self.now(), ok=False,
                     detail=str(exc)[:200])  # fmt: skip
            return None
        self.add("login", scheme=scheme, credential=credential, start=start, end=self.now(), ok=True)
        return client

    # -- the artefact ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write every event as JSON lines (the file is replaced)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(event, sort_keys=True) + "\n" for event in self.events))

    @classmethod
    def load(cls, path: Path) -> History:
        """A history saved by save(); blank lines are skipped, anything else must be an event."""
        events = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        if not all(isinstance(event, dict) and "kind" in event for event in events):
            raise ValueError(f"{path} is not a drill history (one JSON event a line)")
        return cls(events=events)
