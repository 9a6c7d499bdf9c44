"""Redis faults beyond a clean kill, as drills (`make drill` runs them; the suite runs them short).

- `drill_primary_frozen`: the primary stopped with SIGSTOP past down-after-milliseconds (a
  stalled VM, a long fork). The Sentinels promote a replica; the other replica follows it, so
  WAIT 1 still has a replica and logins, logouts and revocations work again. Revocations are made
  on the new primary while the old one is frozen; then the old one is resumed, waking up believing
  it is the primary and holding the revoked credentials. Nothing may read it: every app instance
  follows the new primary (accounts.sentinel), copies included. Judged: every revoked credential,
  tried on every app instance right after the resume, is refused.
- `drill_restart_all`: every Redis node stopped and started again, empty (`persistence="none"`:
  no persistence, or its files lost) or from its append-only file (`"aof"`). Judged: no revoked
  credential comes back (the access-token cut-off is the database's when Redis has none); figures
  say what users lost (Redis sessions logged out) and how long no login succeeded.

Each drill takes an optional `history` (deploy.cluster.history's, `.under(fault)`): its logins and
revocations are recorded there too, for the checker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from authdemo import measured
from deploy.cluster.drill_kit import Drill, Load, Probe, check_still_logged_in
from deploy.cluster.launcher import Cluster
from deploy.cluster.supervisor import Program
from harness.logins import bearer, log_in, post_form
from harness.stack import wait_until

TIMEOUT = 5  # a bound on one hung request of the drill's own
LOGIN_EVERY = 0.2  # seconds between two login attempts of the login loop


@contextlib.contextmanager
def frozen(node: Program) -> Iterator[int]:
    """SIGSTOP the node for the block (its pid), SIGCONT after it whatever happens."""
    pid = node.kill(signal.SIGSTOP)
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


@dataclass
class Logins:
    """A thread logging one user in through the form, back to back, while the block runs; the
    longest time in it without a successful login is the drill's "no login" figure."""

    drill: Drill
    base: str
    user: tuple[str, str]
    history: object | None = None
    attempts: list[tuple[float, float, bool]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Logins:
        self._started = self.drill.now()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT * 3)
        self._ended = self.drill.now()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            start = self.drill.now()
            n += 1
            try:
                if self.history is not None:
                    self.history.login(measured.SESSION_REDIS, f"{self.user[0]}/login-{n}", self._log_in)
                else:
                    self._log_in()
                ok = True
            except (requests.RequestException, RuntimeError):
                ok = False
            self.attempts.append((start, self.drill.now(), ok))
            self._stop.wait(LOGIN_EVERY)

    def _log_in(self) -> requests.Session:
        return log_in(self.base, *self.user, timeout=TIMEOUT)

    def longest_without(self) -> float:
        """The longest stretch of the block in which no login succeeded (seconds)."""
        successes = [end for _, end, ok in self.attempts if ok]
        edges = [self._started, *successes, self._ended]
        return round(max(b - a for a, b in zip(edges, edges[1:], strict=False)), 2)

    def record(self, drill: Drill) -> None:
        failed = sum(1 for *_, ok in self.attempts if not ok)
        drill.figures["logins"] = {"attempted": len(self.attempts), "failed": failed}
        drill.figures["longest_without_login_seconds"] = self.longest_without()


@dataclass
class Credential:
    """One credential a drill revokes, and how to use it on a given app instance."""

    name: str
    kind: str  # measured.SESSION_REDIS or measured.JWT_CUTOFF
    client: requests.Session
    path: str

    def answer(self, base: str) -> int | None:
        try:
            return self.client.get(f"{base}{self.path}", allow_redirects=False, timeout=TIMEOUT).status_code
        except requests.RequestException:
            return None


def credentials_to_revoke(base: str, users: dict) -> tuple[Credential, Credential, requests.Session, requests.Session]:
    """A Redis session (and the browser that will log it out) and an access token (and a browser
    of its user that will "log out everywhere")."""
    leaving = log_in(base, *users["session"], timeout=TIMEOUT)
    session = Credential("a Redis session logged out", measured.SESSION_REDIS, requests.Session(), "/accounts/profile/")
    session.client.cookies.update(leaving.cookies)
    token = Credential("an access token cut off by 'log out everywhere'", measured.JWT_CUTOFF,
                       bearer(base, *users["revoked"], timeout=TIMEOUT), "/api/dashboard/")  # fmt: skip
    everywhere = log_in(base, *users["revoked"], timeout=TIMEOUT)
    return session, token, leaving, everywhere


def acknowledged(drill: Drill, what: str, action: Callable[[], requests.Response], *, within: float) -> float | None:
    """Repeat `action` (a revocation) until it answers 302; the drill time it was acknowledged.
    A 503 is an honest "not now" (the failover is under way): tried again."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if action().status_code == 302:
                at = drill.now()
                drill.mark(f"{what}: acknowledged")
                return at
        time.sleep(0.1)
    drill.violate(f"{what}: not acknowledged within {within} s")
    return None


def check_refused_everywhere(drill: Drill, cluster: Cluster, credentials: list[Credential], *, seconds: float) -> int:
    """Try every revoked credential on every app instance, back to back for `seconds`: any 200
    is a revoked credential served (read from a store that has not heard of the revocation).
    The number of tries."""
    tries, deadline = 0, time.monotonic() + seconds
    bases = [app.url for app in cluster.apps.get("main", [])]
    while time.monotonic() < deadline:
        for credential in credentials:
            for base in bases:
                tries += 1
                if credential.answer(base) == 200:
                    drill.violate(f"{credential.name} served by {base} after its revocation was acknowledged")
    return tries


def new_primary(cluster: Cluster, victim: Program) -> int:
    """Wait until the Sentinels name another primary than `victim`; its port."""
    return wait_until(lambda: cluster.primary_port() not in (None, victim.port) and cluster.primary_port(),
                      timeout=30, what="a new primary")  # fmt: skip


def failover_seconds(cluster: Cluster, drill: Drill, victim: Program, since_wall: float, since: float) -> float:
    """Wait for the Sentinels to name another primary; the seconds their own log says it took."""
    port = new_primary(cluster, victim)
    switched = cluster.switched_after(since_wall)
    seconds = round(switched - since_wall if switched else drill.now() - since, 2)
    drill.figures["failover_seconds"] = seconds
    drill.mark(f"the Sentinels named the primary on port {port}, {seconds} s after the freeze", at=since + seconds)
    return seconds


def drill_primary_frozen(cluster: Cluster, probes: list[Probe], users: dict, *, seconds: float,
                         history=None, verbose: bool = False) -> Drill:  # fmt: skip
    """Freeze the primary past down-after-milliseconds, revoke on the new primary, resume the old one."""
    name = "Redis primary frozen (SIGSTOP), then resumed"
    drill = Drill(name, tolerated={measured.SESSION_REDIS}, verbose=verbose)
    log = history.under(name) if history is not None else None
    base = cluster.group_url("main")
    session, token, leaving, everywhere = credentials_to_revoke(base, users)
    victim = cluster.primary()
    with Load(drill, probes), Logins(drill, base, users["session"], log) as logins:
        time.sleep(seconds / 3)
        with frozen(victim) as pid:
            frozen_at, wall = drill.now(), time.time()
            drill.mark(f"froze the primary {victim.name} (pid {pid}) with SIGSTOP", at=frozen_at)
            failover_seconds(cluster, drill, victim, wall, frozen_at)
            for credential, browser, path in ((session, leaving, "/accounts/logout/"),
                                              (token, everywhere, "/accounts/sessions/everywhere/")):  # fmt: skip
                revoke = lambda b=browser, p=path: post_form(b, base, p, timeout=TIMEOUT)  # noqa: E731
                _revoke(drill, log, credential, revoke, within=30)
            time.sleep(seconds / 3)  # logins keep succeeding while the old primary stays frozen
            resumed = drill.now()
        drill.mark(f"resumed {victim.name} with SIGCONT: it wakes up believing it is the primary")
        tries = check_refused_everywhere(drill, cluster, [session, token], seconds=max(2.0, seconds / 3))
        drill.mark(f"{tries} tries of the revoked credentials on every instance since the resume, none served")
        cluster.wait_healthy()
        drill.mark(f"{victim.name} rejoined as a replica of the new primary, in sync")
        drill.figures["frozen_seconds"] = round(resumed - frozen_at, 2)
    logins.record(drill)
    drill.mark(f"longest time without a successful login: {drill.figures['longest_without_login_seconds']} s")
    check_still_logged_in(drill, probes)
    for credential in (session, token):
        if credential.answer(base) == 200:
            drill.violate(f"revocation lost: {credential.name}")
    return drill.judge()


def _revoke(drill: Drill, log, credential: Credential, action, *, within: float) -> None:
    if log is None:
        acknowledged(drill, f"revoked {credential.name}", action, within=within)
        return
    log.revoke([credential.name], lambda: acknowledged(drill, f"revoked {credential.name}", action,
                                                       within=within) is not None, what=credential.name)  # fmt: skip


def restart_redis(cluster: Cluster, drill: Drill, *, empty: bool) -> None:
    """Stop every Redis node (supervisord: SIGTERM, a clean shutdown that syncs the append-only
    file), wipe what each keeps on disk when `empty`, and start them all again at once."""
    rpc = cluster.supervisor.rpc()
    for node in cluster.redis:
        rpc.stopProcess(node.name)
    drill.mark(f"stopped every Redis node ({', '.join(node.name for node in cluster.redis)})")
    if empty:
        for node in cluster.redis:
            shutil.rmtree(cluster.workdir / f"{node.name}-aof", ignore_errors=True)
            (cluster.workdir / f"{node.name}.rdb").unlink(missing_ok=True)
        drill.mark("removed their files: they start empty")
    for node in cluster.redis:
        rpc.startProcess(node.name, False)
    drill.mark("started them all again")


def drill_restart_all(cluster: Cluster, probes: list[Probe], users: dict, *, persistence: str, seconds: float,
                      history=None, verbose: bool = False) -> Drill:  # fmt: skip
    """Restart every Redis node, empty ("none") or from its append-only file ("aof")."""
    name = f"every Redis node restarted ({'empty' if persistence == 'none' else 'from the append-only file'})"
    drill = Drill(name, tolerated={measured.JWT_CUTOFF}, verbose=verbose)
    log = history.under(name) if history is not None else None
    base = cluster.group_url("main")
    session, token, leaving, everywhere = credentials_to_revoke(base, users)
    kept = [log_in(base, *users["session"], timeout=TIMEOUT) for _ in range(3)]
    load = [probe for probe in probes if probe.scheme != measured.SESSION_REDIS]  # judged apart: it may be lost
    with Load(drill, load), Logins(drill, base, users["session"], log) as logins:
        for credential, browser, path in ((session, leaving, "/accounts/logout/"),
                                          (token, everywhere, "/accounts/sessions/everywhere/")):  # fmt: skip
            _revoke(drill, log, credential, lambda b=browser, p=path: post_form(b, base, p, timeout=TIMEOUT), within=10)
        time.sleep(seconds / 3)
        stopped = drill.now()
        restart_redis(cluster, drill, empty=persistence == "none")
        cluster.wait_healthy(timeout=90)
        drill.figures["redis_back_seconds"] = round(drill.now() - stopped, 2)
        drill.mark("a primary and every replica in sync again")
        time.sleep(seconds / 3)
    logins.record(drill)
    drill.mark(f"longest time without a successful login: {drill.figures['longest_without_login_seconds']} s")
    survived = sum(1 for browser in kept if _status(browser, f"{base}/accounts/profile/") == 200)
    drill.figures["redis_sessions_kept"] = f"{survived} of {len(kept)}"
    drill.mark(f"Redis sessions still logged in after the restart: {survived} of {len(kept)}")
    check_still_logged_in(drill, load)
    for credential in (session, token):
        if credential.answer(base) == 200:
            drill.violate(f"a revoked credential came back: {credential.name}")
    return drill.judge()


def _status(client: requests.Session, url: str) -> int | None:
    try:
        return client.get(url, allow_redirects=False, timeout=TIMEOUT).status_code
    except requests.RequestException:
        return None
