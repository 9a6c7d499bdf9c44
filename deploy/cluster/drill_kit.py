"""Failure drills on the cluster: steady traffic for every scheme while one piece fails.

A drill drives each scheme with back-to-back GETs through nginx while one piece of the
cluster is killed or restarted, records every answer, and judges them: a user must never
be silently logged out, an outage answer is a 503 with Retry-After where the scheme depends
on the failed store, and nothing else may fail. The timeline says when each thing happened.
The drills themselves are in deploy.cluster.drill (`make drill`); the test suite runs them short.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from authdemo import measured
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
    """One logged-in client of one scheme, and the page it keeps reading."""

    scheme: str
    url: str
    client: requests.Session

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
            probes.append(Probe(scheme, f"{base}{path}", client))
    return probes


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
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def mark(self, text: str, *, at: float | None = None) -> None:
        at = self.now() if at is None else at
        self.timeline.append((at, text))
        if self.verbose:
            print(f"  {at:6.2f} s  {text}", flush=True)

    def record(self, scheme: str, status: int | None, retry_after: bool) -> None:
        with self._lock:
            self.samples.append((self.now(), scheme, outcome(status, retry_after)))

    def violate(self, text: str) -> None:
        self.violations.append(text)
        self.mark(f"VIOLATION: {text}")

    def judge(self) -> Drill:
        """Count the failed requests per scheme, name every wrong answer, add state changes to the timeline."""
        requests_by, failed_by, wrong = Counter(), Counter(), Counter()
        last: dict[str, str] = {}
        for at, scheme, result in sorted(self.samples):
            requests_by[scheme] += 1
            if result != "ok":
                failed_by[scheme] += 1
            if result != "ok" and not (result == "503 with Retry-After" and scheme in self.tolerated):
                wrong[(scheme, result)] += 1
            if last.get(scheme) != result:
                self.timeline.append((at, f"{scheme}: {result}"))
                last[scheme] = result
        self.timeline.sort()
        for (scheme, result), count in sorted(wrong.items()):
            self.violations.append(f"{scheme}: {count} x {result}")
        self.figures["requests"] = dict(requests_by)
        self.figures["failed"] = {scheme: failed_by[scheme] for scheme in requests_by}
        return self

    def report(self) -> dict:
        return {
            "name": self.name, **self.figures, "violations": self.violations,
            "timeline": [f"{at:6.2f} s  {text}" for at, text in self.timeline],
        }  # fmt: skip


class Load:
    """Back-to-back GETs from every probe, on threads, until the block ends."""

    def __init__(self, drill: Drill, probes: list[Probe]):
        self.drill, self.probes = drill, probes
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(probe,), daemon=True) for probe in probes]

    def _run(self, probe: Probe) -> None:
        while not self.stopping.is_set():
            self.drill.record(probe.scheme, *probe.status())

    def __enter__(self) -> Load:
        self.drill.started = time.monotonic()  # the drill's clock starts with its traffic
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT + 5)

    def wait_for(self, scheme: str, result: str, *, timeout: float) -> float:
        """Wait until the scheme's probe answers `result`; return when, in drill time."""
        probe = next(p for p in self.probes if p.scheme == scheme)
        wait_until(lambda: outcome(*probe.status()) == result, timeout=timeout, what=f"{scheme} to answer {result}")
        return self.drill.now()


@dataclass(frozen=True)
class Revocation:
    """Something ended just before a failure, and how to tell that it is still ended."""

    name: str
    ended: Callable[[], bool]


def check_still_logged_in(drill: Drill, probes: list[Probe]) -> None:
    for probe in probes:
        if (result := outcome(*probe.status())) != "ok":
            drill.violate(f"{probe.scheme} client not served after the drill: {result}")


def check_still_revoked(drill: Drill, revocations: list[Revocation]) -> None:
    for revocation in revocations:
        if not revocation.ended():
            drill.violate(f"revocation lost in the failover: {revocation.name}")
