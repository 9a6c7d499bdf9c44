"""Failure drills on the cluster: steady traffic for every scheme while one piece fails.

A drill drives each scheme with back-to-back GETs through nginx while one piece of the
cluster is killed or restarted, and keeps logging in; every request, login and revocation goes
into its History (deploy.cluster.history), which deploy.cluster.checker judges when the drill
ends: a revoked credential accepted beyond its scheme's bound, a live one refused as logged out,
an acknowledged login or revocation lost. The drill itself judges the other answers: an outage
answer is a 503 with Retry-After where the scheme depends on the failed store, and nothing
else may fail. The timeline says when each thing happened. The drills themselves are in
deploy.cluster.drill (`make drill`); the test suite runs them short.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from authdemo import measured
from deploy.cluster.checker import check
from deploy.cluster.history import LOGGED_OUT, History, classify, overlaps
from deploy.cluster.launcher import Cluster
from harness.logins import bearer, log_in
from harness.stack import wait_until

TIMEOUT = 10  # a bound on one hung request
TIMED_OUT = -1
# scheme (the comparison's names) -> (group of instances behind nginx, path it reads)
SCHEMES = {
    measured.SESSION_REDIS: ("main", "/accounts/profile/"),
    measured.JWT_CUTOFF: ("main", "/api/dashboard/"),
    measured.SESSION_DB: ("stateless", "/accounts/profile/"),
    measured.JWT_STATELESS: ("stateless", "/api/dashboard/"),
}


@dataclass(frozen=True)
class Probe:
    """One logged-in client of one scheme, the page it keeps reading, and the id its credential
    has in the history (never the secret)."""

    scheme: str
    url: str
    client: requests.Session
    credential: str = ""

    @property
    def name(self) -> str:
        return self.credential or f"{self.scheme}-probe"

    def read(self, history: History) -> tuple[int | None, bool]:
        """One GET, recorded in `history`; (status, Retry-After) as status() says them."""
        start = history.now()
        status, retry_after = self.status()
        answered = None if status == TIMED_OUT else status
        detail = "" if status == 200 else outcome(status, retry_after)
        history.request(self.scheme, self.name, start=start, end=history.now(), status=answered,
                        retry_after=retry_after, detail=detail)  # fmt: skip
        return status, retry_after

    def status(self) -> tuple[int | None, bool]:
        """The status of one GET (None: no answer, TIMED_OUT: none within TIMEOUT) and whether
        it said Retry-After."""
        try:
            response = self.client.get(self.url, allow_redirects=False, timeout=TIMEOUT)
        except requests.Timeout:
            return TIMED_OUT, False
        except requests.RequestException:
            return None, False
        return response.status_code, "Retry-After" in response.headers


def probes_for(cluster: Cluster, users: dict[str, tuple[str, str]]) -> list[Probe]:
    """A logged-in probe per scheme whose group runs; `users` maps "session"/"token" to credentials."""
    probes = []
    for scheme, (group, path) in SCHEMES.items():
        if group in cluster.ports:
            base = cluster.group_url(group)
            kind = "session" if scheme.startswith("session") else "token"
            login = log_in if kind == "session" else bearer
            client = login(base, *users[kind], timeout=TIMEOUT)
            probes.append(Probe(scheme, f"{base}{path}", client, f"{users[kind][0]}/{scheme}-probe"))
    return probes


@dataclass(frozen=True)
class Logins:
    """Log in again and again through one URL as one user, each login a new credential read once."""

    scheme: str
    base: str
    user: tuple[str, str]
    path: str = "/accounts/profile/"
    pause: float = 0.3  # seconds between logins: each costs a password hash on a shared machine

    def once(self, history: History, n: int) -> Probe | None:
        name = f"{self.user[0]}/{self.scheme}-login-{n}"
        client = history.login(self.scheme, name, lambda: log_in(self.base, *self.user, timeout=TIMEOUT))
        if client is None:
            return None
        probe = Probe(self.scheme, f"{self.base}{self.path}", client, name)
        probe.read(history)
        return probe


def outcome(status: int | None, retry_after: bool) -> str:
    if status == 200:
        return "ok"
    if status == 503 and retry_after:
        return "503 with Retry-After"
    if status in (301, 302, 401, 403):
        return f"logged out ({status})"
    if status == TIMED_OUT:
        return f"no answer within {TIMEOUT} s"
    return "connection refused or reset" if status is None else f"{status}"


@dataclass
class Drill:
    """One drill's traffic, timeline and verdict."""

    name: str
    tolerated: set[str]  # schemes whose store fails here: a 503 with Retry-After is their right answer
    verbose: bool = False
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, str, str]] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    history: History | None = None  # the run's record (History().under(name) if none is given)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.history = (self.history or History()).under(self.name)

    def now(self) -> float:
        return time.monotonic() - self.started

    def mark(self, text: str, *, at: float | None = None) -> None:
        at = self.now() if at is None else at
        self.timeline.append((at, text))
        if self.verbose:
            print(f"  {at:6.2f} s  {text}", flush=True)

    def record(self, scheme: str, status: int | None, retry_after: bool, *, start: float | None = None) -> None:
        """One answer of the load; `start`: when its request was sent, in drill time (default: now)."""
        with self._lock:
            at = self.now()
            self.samples.append((at, scheme, outcome(status, retry_after), at if start is None else start))

    def violate(self, text: str) -> None:
        self.violations.append(text)
        self.mark(f"VIOLATION: {text}")

    def judge(self) -> Drill:
        """Count the failed requests per scheme, name every wrong answer, add state changes to the
        timeline; then the checker's verdict on the history (logouts are its to judge: whether a
        credential was live depends on the revocations). A failure in flight at one of the
        history's interruptions (a process serving it killed) is counted apart, not as wrong."""
        requests_by, failed_by, wrong, cut = Counter(), Counter(), Counter(), Counter()
        kills = [(since - self.started, until - self.started) for since, until in self.history.interruptions()]
        last: dict[str, str] = {}
        for at, scheme, result, start in sorted(self.samples):
            requests_by[scheme] += 1
            if result != "ok":
                failed_by[scheme] += 1
            tolerated = result == "503 with Retry-After" and scheme in self.tolerated
            if result != "ok" and not tolerated and not result.startswith("logged out"):
                if overlaps(start, at, kills):
                    cut[scheme] += 1
                else:
                    wrong[(scheme, result)] += 1
            if last.get(scheme) != result:
                self.timeline.append((at, f"{scheme}: {result}"))
                last[scheme] = result
        self.timeline.sort()
        for (scheme, result), count in sorted(wrong.items()):
            self.violations.append(f"{scheme}: {count} x {result}")
        self.figures["requests"] = dict(requests_by)
        self.figures["failed"] = {scheme: failed_by[scheme] for scheme in requests_by}
        if kills:
            self.figures["in_flight_at_a_kill"] = {scheme: cut[scheme] for scheme in requests_by}
        return self.check()

    def check(self) -> Drill:
        """Add the checker's violations for this drill's fault (over the whole run's history)."""
        report = check(self.history)
        self.figures["checker"] = report.table().get(self.name, {})
        for line in report.violations(self.name):
            if line not in self.violations:
                self.violate(line)
        return self

    def report(self) -> dict:
        """The drill's figures, verdict and timeline, for cluster.json."""
        return {
            "name": self.name, **self.figures, "violations": self.violations,
            "timeline": [f"{at:6.2f} s  {text}" for at, text in self.timeline],
        }  # fmt: skip


class Workers:
    """Threads that run from the start of a `with` block until its end: a subclass fills
    `self.threads` with threads that loop until `self.stopping` is set."""

    join_timeout = TIMEOUT + 5  # a bound on one hung request, and some

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=self.join_timeout)


class Load(Workers):
    """Back-to-back GETs from every probe, and logins, on threads, until the block ends; each
    recorded in the drill's history. Probes added later (a revoked credential) are recorded
    there only: their refusals are no failure of the scheme."""

    def __init__(self, drill: Drill, probes: list[Probe], logins: list[Logins] = ()):
        super().__init__()
        self.drill, self.probes = drill, probes
        self.threads = [threading.Thread(target=self._run, args=(probe, True), daemon=True) for probe in probes]
        self.threads += [threading.Thread(target=self._log_in, args=(each,), daemon=True) for each in logins]
        self.logged_in: list[Probe] = []

    def _run(self, probe: Probe, live: bool) -> None:
        while not self.stopping.is_set():
            start = self.drill.now()
            status, retry_after = probe.read(self.drill.history)
            if live:
                self.drill.record(probe.scheme, status, retry_after, start=start)

    def _log_in(self, logins: Logins) -> None:
        n = 0
        while not self.stopping.wait(logins.pause):
            n += 1
            if probe := logins.once(self.drill.history, n):
                self.logged_in.append(probe)

    def wait_for_login(self, *, since: float, timeout: float) -> float:
        """Wait until a login that started after `since` (History.now()) succeeded; when, in drill time."""
        succeeded = lambda: any(e["kind"] == "login" and e["ok"] and e["start"] >= since  # noqa: E731
                                for e in self.drill.history.events)  # fmt: skip
        wait_until(succeeded, timeout=timeout, what="a login to succeed")
        return self.drill.now()

    def add(self, probe: Probe) -> None:
        """Read `probe` too, from now on, in the history only (a credential just revoked)."""
        thread = threading.Thread(target=self._run, args=(probe, False), daemon=True)
        self.threads.append(thread)
        thread.start()

    def __enter__(self) -> Load:
        self.drill.started = time.monotonic()  # the drill's clock starts with its traffic
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        for probe in self.logged_in:  # the last word on every login the drill acknowledged
            probe.read(self.drill.history)

    def wait_for(self, scheme: str, result: str, *, timeout: float) -> float:
        """Wait until the scheme's probe answers `result`; return when, in drill time."""
        probe = next(p for p in self.probes if p.scheme == scheme)
        wait_until(lambda: outcome(*probe.status()) == result, timeout=timeout, what=f"{scheme} to answer {result}")
        return self.drill.now()


@dataclass(frozen=True)
class Revocation:
    """Something ended during a drill: what, how (True: acknowledged), and the probes of the
    credentials it ends (each keeps being read, and must stay refused)."""

    name: str
    action: Callable[[], bool]
    probes: tuple[Probe, ...]

    def make(self, drill: Drill) -> bool:
        """Revoke, recorded in the drill's history; a revocation not acknowledged is a violation."""
        if not drill.history.revoke([probe.name for probe in self.probes], self.action, what=self.name):
            drill.violate(f"not acknowledged: {self.name}")
            return False
        return True


def check_still_logged_in(drill: Drill, probes: list[Probe], *, when: str = "after the drill") -> None:
    for probe in probes:
        if (result := outcome(*probe.read(drill.history))) != "ok":
            drill.violate(f"{probe.scheme} client not served {when}: {result}")


def check_still_revoked(drill: Drill, revocations: list[Revocation]) -> None:
    for revocation in revocations:
        for probe in revocation.probes:
            if classify(probe.read(drill.history)[0]) != LOGGED_OUT:
                drill.violate(f"revocation lost: {revocation.name} ({probe.name} accepted)")


def retried(action: Callable[[], bool], *, within: float) -> Callable[[], bool]:
    """`action` (a revocation) tried again until acknowledged or `within` seconds: a 503 while a
    failover is under way is an honest "not now", and a user tries again."""

    def until_acknowledged() -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if action():
                    return True
            time.sleep(0.1)
        return False

    return until_acknowledged


def revoke_all(drill: Drill, load: Load, revocations: list[Revocation], *, within: float | None = None) -> None:
    """Make each revocation (tried again for `within` s; None: once, as a fault that must not stop
    writes demands), then keep reading its credentials."""
    for revocation in revocations:
        action = revocation.action if within is None else retried(revocation.action, within=within)
        if Revocation(revocation.name, action, revocation.probes).make(drill):
            drill.mark(f"acknowledged: {revocation.name}")
        for probe in revocation.probes:
            load.add(probe)


def on_every_instance(cluster: Cluster, probes: list[Probe]) -> list[Probe]:
    """The same credentials read at every instance of the main group directly, not through nginx."""
    return [Probe(probe.scheme, app.url + SCHEMES[probe.scheme][1], probe.client, probe.name)
            for probe in probes for app in cluster.apps["main"]]  # fmt: skip


def logins_work(cluster: Cluster, username: str, password: str) -> bool:
    """Whether a login succeeds at every instance of the main group, each tried directly."""
    for app in cluster.apps["main"]:
        try:
            log_in(app.url, username, password)
        except (RuntimeError, requests.RequestException):
            return False
    return True


def children(pid: int) -> list[int]:
    """The pids of a process's children (a granian or nginx master's workers)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def kill_until_gone(drill: Drill, pid: int, *, also: list[int], what: str, timeout: float = 60) -> None:
    """SIGKILL `pid` and wait until it and the processes `also` are gone (their pidfds say when).
    From the signal until then is an interruption in the drill's history: a request in flight on
    one of them may fail, which nothing can save; the checker and judge() count it apart."""
    gone = [os.pidfd_open(process) for process in (pid, *also)]
    try:
        signalled = drill.history.now()
        os.kill(pid, signal.SIGKILL)
        for fd in gone:
            if not select.select([fd], [], [], timeout)[0]:
                raise RuntimeError(f"{what}: a process outlived SIGKILL by {timeout} s")
        drill.history.interruption(start=signalled, end=drill.history.now(), what=what)
    finally:
        for fd in gone:
            os.close(fd)


def tried_everywhere(drill: Drill, cluster: Cluster, revocations: list[Revocation], *, seconds: float) -> int:
    """Read every revoked credential on every app instance directly (not through nginx), back to
    back for `seconds`, into the history; any acceptance is a violation here (the checker also
    judges it against the bound): call it once the bound has passed. The number of reads."""
    probes = on_every_instance(cluster, [probe for revocation in revocations for probe in revocation.probes])
    reads, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for probe in probes:
            reads += 1
            if probe.read(drill.history)[0] == 200:
                drill.violate(f"{probe.name} accepted by {probe.url} after its revocation was acknowledged")
    return reads
