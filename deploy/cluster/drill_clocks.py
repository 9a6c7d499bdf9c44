"""Skewed clocks (in `make drill`; alone: `python -m deploy.cluster.drill --only drill_clocks [--quick]`).

One instance runs 2 s ahead of the machine's clock and one 2 s behind (Debian's libfaketime:
harness.clocks), both on the cluster's Redis and PostgreSQL. Rounds alternate the two roles: an
access token is issued by one instance, "log out everywhere" is pressed on the other, and a new
token is issued by the first right after the revocation was acknowledged. Under the old
time-based cut-off a token issued by the fast instance just before a revocation made on the slow
one carried an `iat` after the cut-off and survived it, and a token issued by the slow instance
just after a revocation made on the fast one was refused. The cut-off is now a version the token
carries (api.tokens.revoked), so neither may happen.

Every token is read at both instances, back to back, for the whole run, and every request,
login and revocation goes into the History (deploy.cluster.history) that
deploy.cluster.checker judges: a revoked token accepted more than LOCAL_TIER_BOUND after its
revocation was acknowledged, or a live one refused, is a violation (exit 1). A last read of every
token at both instances closes the run. The suite's short version is two servers under
libfaketime without the cluster (tests/api/test_clock_skew_servers.py).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from authdemo.measured import JWT_CUTOFF, SESSION_REDIS
from deploy.cluster.checker import LOCAL_TIER_BOUND, check
from deploy.cluster.drill_kit import Drill, Workers
from deploy.cluster.history import History
from deploy.cluster.launcher import MAIN, Cluster
from deploy.cluster.supervisor import App
from harness.clocks import libfaketime, skewed
from harness.logins import bearer, log_in, post_form

FAULT = "app instances' clocks 2 s ahead and 2 s behind"
SKEW = 2.0  # seconds each way: the two instances are 2 x SKEW apart
DEMO_USERS = {"alice": "alice-demo-pass", "bob": "bob-demo-pass"}
PAUSE = 0.05  # seconds between one reader's sweeps: 2 cores are shared with the cluster


class Tokens(Workers):
    """The tokens issued so far, read at every instance (a thread each) until the block ends."""

    def __init__(self, history: History, apps: list[App]):
        super().__init__()
        self.history, self.apps = history, apps
        self.clients: dict[str, requests.Session] = {}
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._read, args=(app,), daemon=True) for app in apps]

    def add(self, name: str, client: requests.Session) -> None:
        with self._lock:
            self.clients[name] = client

    def read(self, app: App, name: str) -> int | None:
        return self.history.get(JWT_CUTOFF, name, self.clients[name], f"{app.url}/api/dashboard/")[0]

    def _read(self, app: App) -> None:
        while not self.stopping.is_set():
            with self._lock:
                names = list(self.clients)
            for name in names:
                self.read(app, name)
            time.sleep(PAUSE)


def skewed_cluster(env: dict[str, str], workdir: Path) -> Cluster:
    """A cluster (not started) with one app instance behind nginx per clock: "fast" and "slow"."""
    groups = {"fast": (1, {**MAIN, **skewed({}, SKEW)}), "slow": (1, {**MAIN, **skewed({}, -SKEW)})}
    return Cluster({**env, "AUTH_THROTTLE_RATE": "1000/minute"}, workdir, groups=groups,
                   state_path=workdir / "state.json")  # fmt: skip


def one_round(h: History, tokens: Tokens, drill: Drill, n: int, user: str, issuer: App, revoker: App) -> None:
    """A token from `issuer`, "log out everywhere" on `revoker`, a token from `issuer` again."""
    password = DEMO_USERS[user]
    before = f"{user}/token-{n}-before-{issuer.name}"
    client = h.login(JWT_CUTOFF, before, lambda: bearer(issuer.url, user, password))
    session = h.login(SESSION_REDIS, f"{user}/session-{n}-{revoker.name}", lambda: log_in(revoker.url, user, password))
    if client is None or session is None:
        drill.violate(f"round {n}: a login before the revocation failed")
        return
    tokens.add(before, client)
    time.sleep(PAUSE)  # read at least once while live
    live = [name for name in tokens.clients if name.startswith(f"{user}/") and name not in drill.figures["revoked"]]
    done = h.revoke([*live, f"{user}/session-{n}-{revoker.name}"],
                    lambda: post_form(session, revoker.url, "/accounts/sessions/everywhere/").status_code == 302,
                    what=f"log out everywhere on {revoker.name}")  # fmt: skip
    if not done:
        drill.violate(f"round {n}: log out everywhere on {revoker.name} was not acknowledged")
        return
    drill.figures["revoked"] += live
    after = f"{user}/token-{n}-after-{issuer.name}"
    client = h.login(JWT_CUTOFF, after, lambda: bearer(issuer.url, user, password))
    if client is None:
        drill.violate(f"round {n}: a login after the revocation failed")
        return
    tokens.add(after, client)
    drill.mark(f"round {n} ({user}): token from {issuer.name}, revoked on {revoker.name}, new token from {issuer.name}")


def last_word(tokens: Tokens, drill: Drill) -> None:
    """Every token at every instance once more, after the bound: revoked ones refused, the rest accepted."""
    time.sleep(LOCAL_TIER_BOUND)
    survived, refused = 0, 0
    for app in tokens.apps:
        for name in tokens.clients:
            status = tokens.read(app, name)
            if name in drill.figures["revoked"]:
                survived += status == 200
            else:
                refused += status != 200
    drill.figures["revoked_tokens_accepted_at_the_end"] = survived
    drill.figures["live_tokens_refused_at_the_end"] = refused
    if survived:
        drill.violate(f"{survived} reads of a revoked token were accepted at the end")
    if refused:
        drill.violate(f"{refused} reads of a live token were refused at the end")


def drill_clocks(cluster: Cluster, history: History, *, rounds: int, verbose: bool = False) -> Drill:
    """Interleave issues and revocations across the two clocks; judge the history."""
    drill = Drill("Skewed clocks (one instance 2 s fast, one 2 s slow)", tolerated=set(), verbose=verbose)
    drill.figures.update(skew_seconds=SKEW, rounds=rounds, revoked=[])
    h = history.under(FAULT)
    h.bound(JWT_CUTOFF, LOCAL_TIER_BOUND)
    h.bound(SESSION_REDIS, LOCAL_TIER_BOUND)
    fast, slow = cluster.apps["fast"][0], cluster.apps["slow"][0]
    users = list(DEMO_USERS)
    with Tokens(h, [fast, slow]) as tokens:
        drill.started = time.monotonic()
        for n in range(1, rounds + 1):
            issuer, revoker = (fast, slow) if n % 2 else (slow, fast)
            one_round(h, tokens, drill, n, users[n % len(users)], issuer, revoker)
        time.sleep(LOCAL_TIER_BOUND)
    last_word(tokens, drill)
    drill.figures["tokens"] = len(tokens.clients)
    drill.figures["revoked"] = len(drill.figures["revoked"])
    report = check(history)
    drill.figures["checker"] = report.table().get(FAULT, {})
    for line in report.violations(FAULT):
        drill.violate(line)
    return drill


def run(env: dict[str, str], workdir: Path, history: History, *, instances: int, seconds: float,
        verbose: bool = False) -> Drill:  # fmt: skip
    """Start the two-clock cluster on `env`'s stores, run the drill, stop everything it started.
    `instances` is not used: the drill needs one instance per clock. `seconds` sets the rounds."""
    if libfaketime() is None:
        raise RuntimeError("libfaketime is missing: apt-get install faketime")
    cluster = skewed_cluster(env, workdir)
    try:
        cluster.start()
        return drill_clocks(cluster, history, rounds=max(4, 2 * round(seconds / 2)), verbose=verbose)
    finally:
        cluster.stop()
