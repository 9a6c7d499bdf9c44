"""The verifier's revocation feed delayed, cut and replayed while revocations are made.

The verifier (`python -m verifier`, verifier/) reads authdemo's signed revocation feed through a
small HTTP proxy on 127.0.0.1 that this drill controls (FeedProxy): it passes the feed on, delays
each answer, cuts every connection without an answer, or answers an old copy it kept. The key
set is read from the site directly: only the feed is in the drill's hands. Readers keep asking
the verifier's /dashboard/ with a token that is never revoked and with each token revoked on
the way ("log out everywhere" at the site, acknowledged by its redirect), each request in the
History (scheme VERIFIER) that deploy.cluster.checker judges. The bound B the verifier states
(README, "The verifier"):

- the feed flowing, however slowly: REVOCATION_POLL + REVOCATION_FEED_CACHE + one fetch (at most
  FETCH_TIMEOUT; a slower answer is a failed fetch, and the feed then ages as if cut);
- the feed cut or replayed: REVOCATION_MAX_STALE + REVOCATION_CLOCK_SKEW after the held feed
  was issued, which was before the revocation; then every token gets a 503 with Retry-After
  and /healthz says "refusing every token: revocation feed too old".

Phases, each a Drill (the fault it names) on a bounded timeline: the feed delayed; cut; replayed
(an answer kept from before the revocation); and the verifier restarted while the feed is cut,
when it holds no feed at all and must not accept the tokens revoked before it started.
`make drill` runs it; alone: `python -m deploy.cluster.drill --only drill_feed [--quick]`.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from deploy.cluster.drill_kit import (
    Drill,
    Load,
    Probe,
    Revocation,
    Workers,
    check_still_logged_in,
    check_still_revoked,
)
from deploy.cluster.history import VERIFIER, History
from harness.logins import bearer, log_in, post_form
from harness.stack import ROOT, Server, VerifierServer, wait_until

DEMO_USERS = {"token": ("bob", "bob-demo-pass"), "revoked": ("admin", "admin-demo-pass")}
POLL, FEED_CACHE, FETCH_TIMEOUT, CLOCK_SKEW = 0.2, 0.5, 2.0, 0.5  # the verifier's and the site's settings here
DELAY = 0.5  # seconds each feed answer is held back in the delayed phase (under FETCH_TIMEOUT)
FEED_PATH = "/api/revocations/"


class FeedProxy:
    """An HTTP proxy on 127.0.0.1 in front of the site's feed, in one of four modes: "pass",
    "delay" (each answer held back DELAY s), "cut" (every connection closed unanswered) and
    "replay" (the copy kept by keep() answered instead of the site's)."""

    def __init__(self, upstream: str, *, delay: float = DELAY):
        self.upstream, self.delay, self.mode = upstream, delay, "pass"
        self.last: tuple[int, str, bytes] | None = None
        self.kept: tuple[int, str, bytes] | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                proxy.answer(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "cut":
            handler.close_connection = True  # no status line: the verifier's fetch fails
            return
        if mode == "replay" and self.kept:
            status, content_type, body = self.kept
        else:
            headers = {k: v for k, v in handler.headers.items() if k.lower() in ("authorization", "accept")}
            got = requests.get(f"{self.upstream}{handler.path}", headers=headers, timeout=10)
            status, content_type, body = self.last = (got.status_code, got.headers.get("Content-Type", ""), got.content)
        if mode == "delay":
            time.sleep(self.delay)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def keep(self) -> None:
        """Keep the last answer the site gave, to replay it later."""
        self.kept = self.last

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stage:
    """The site, the proxy and the verifier of one run, and how to read and revoke through them."""

    site: Server
    proxy: FeedProxy
    verifier_env: dict[str, str]
    log: Path
    max_stale: float
    verifier: VerifierServer | None = None
    revoked: list[Probe] = field(default_factory=list)  # every token revoked so far

    def start_verifier(self, *, port: int | None = None) -> VerifierServer:
        """Start the verifier (on `port` if given: the readers keep their URL) and wait until it
        answers /healthz, whatever it says: while the feed is cut it may refuse every token."""
        extra = {} if port is None else {"port": port}
        self.verifier = VerifierServer("verifier", self.verifier_env, self.log, **extra).start()
        wait_until(lambda: answers(f"{self.verifier.url}/healthz"), timeout=30, what="the verifier to answer")
        return self.verifier

    def health(self) -> dict:
        try:
            return requests.get(f"{self.verifier.url}/healthz", timeout=5).json()
        except (requests.RequestException, ValueError):
            return {"status": "no answer"}

    def probe(self, client: requests.Session, name: str) -> Probe:
        return Probe(VERIFIER, f"{self.verifier.url}/dashboard/", client, name)

    @property
    def bounds(self) -> dict[str, float]:
        """B while the feed flows (however slowly), and once it stops."""
        return {"flowing": POLL + FEED_CACHE + FETCH_TIMEOUT, "stopped": self.max_stale + CLOCK_SKEW}


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


def fresh_revocation(stage: Stage, users: dict, n: int) -> Revocation:
    """A new token of the user to revoke, read at the verifier, and its "log out everywhere"."""
    base = stage.site.url
    token, browser = bearer(base, *users["revoked"]), log_in(base, *users["revoked"])
    probe = stage.probe(token, f"{users['revoked'][0]}/verifier-token-{n}")
    action = lambda: post_form(browser, base, "/accounts/sessions/everywhere/").status_code == 302  # noqa: E731
    return Revocation(f"'log out everywhere' of {probe.name}", action, (probe,))


class HealthWatch(Workers):
    """Marks each change of the verifier's /healthz status on the drill's timeline; when it
    first said it refuses every token."""

    def __init__(self, stage: Stage, drill: Drill):
        super().__init__()
        self.stage, self.drill, self.refusing_at = stage, drill, None
        self.threads = [threading.Thread(target=self._run, daemon=True)]

    def _run(self) -> None:
        last = None
        while not self.stopping.wait(0.1):
            status = self.stage.health().get("status")
            if status != last:
                self.drill.mark(f"verifier /healthz: {status}")
                last = status
            if self.refusing_at is None and str(status).startswith("refusing every token"):
                self.refusing_at = self.drill.now()


def heal(stage: Stage, drill: Drill) -> None:
    stage.proxy.mode = "pass"
    drill.mark("the feed flows again")
    wait_until(lambda: stage.health().get("status") == "ok", timeout=30, what="the verifier to take a fresh feed")


def phase(stage: Stage, history: History, live: Probe, revocation: Revocation, *, fault: str, mode: str,
          hold: float, verbose: bool) -> Drill:  # fmt: skip
    """Read, put the proxy in `mode`, revoke, hold, heal, read again; the drill judged."""
    drill = Drill(fault, tolerated={VERIFIER}, verbose=verbose, history=history)
    bound = stage.bounds["flowing" if mode == "delay" else "stopped"]
    drill.history.bound(VERIFIER, bound)
    with Load(drill, [live]) as load, HealthWatch(stage, drill) as watch:
        for probe in (*revocation.probes, *stage.revoked):
            load.add(probe)
        time.sleep(0.5)
        if mode == "replay":
            stage.proxy.keep()  # a genuine answer from before the revocation
        stage.proxy.mode = mode
        drill.mark({"delay": f"the feed delayed {stage.proxy.delay:g} s", "cut": "the feed cut",
                    "replay": "the feed replayed (an answer kept before the revocation)"}[mode])  # fmt: skip
        if revocation.make(drill):
            drill.mark(f"acknowledged: {revocation.name} (B = {bound:g} s)")
        time.sleep(hold)
        if mode != "delay" and watch.refusing_at is None:
            drill.violate(f"the feed {mode} for {hold:g} s (more than B = {bound:g} s): the verifier never said it "
                          "refuses every token")  # fmt: skip
        heal(stage, drill)
        time.sleep(0.5)
    stage.revoked += revocation.probes
    check_still_logged_in(drill, [live])
    check_still_revoked(drill, [revocation])
    return drill.judge()


def restart_while_cut(stage: Stage, history: History, live: Probe, *, hold: float, verbose: bool) -> Drill:
    """Cut the feed, restart the verifier on the same port: holding no feed, it must refuse the
    tokens revoked before it started (a 503 for every token until a feed arrives)."""
    drill = Drill("verifier restarted while its feed is cut", tolerated={VERIFIER}, verbose=verbose, history=history)
    drill.history.bound(VERIFIER, stage.bounds["stopped"])
    stage.proxy.mode = "cut"
    port = stage.verifier.port
    stage.verifier.stop()
    stage.start_verifier(port=port)
    with Load(drill, [live]) as load, HealthWatch(stage, drill):
        drill.mark(f"the feed cut, the verifier stopped and started again on port {port}: it holds no feed")
        for probe in stage.revoked:
            load.add(probe)
        time.sleep(hold)
        heal(stage, drill)
        time.sleep(0.5)
    check_still_logged_in(drill, [live])
    return drill.judge()


def start_stage(env: dict[str, str], workdir: Path, *, max_stale: float) -> Stage:
    """The site (ES256, a key ring of its own), the proxy in front of its feed, the verifier."""
    keys, feed_token = workdir / "keys", secrets.token_urlsafe(32)
    site_env = {**env, "JWT_ALGORITHM": "ES256", "JWT_KEYS_DIR": str(keys), "JWT_REVOCATION": "cutoff",
                "REVOCATION_FEED_TOKEN": feed_token, "REVOCATION_FEED_CACHE": str(FEED_CACHE)}  # fmt: skip
    command = [sys.executable, "manage.py", "jwt_keys", "generate", "--activate"]
    subprocess.run(command, cwd=ROOT, env=site_env, check=True, capture_output=True)  # noqa: S603
    site = Server("feed-site", site_env, workdir / "site.log", app="authdemo.wsgi").start().wait_ready()
    proxy = FeedProxy(site.url)
    verifier_env = {"PATH": env["PATH"], "PYTHONUNBUFFERED": "1", "JWKS_URL": f"{site.url}/.well-known/jwks.json",
                    "REVOCATION_URL": f"{proxy.url}{FEED_PATH}", "REVOCATION_FEED_TOKEN": feed_token,
                    "REVOCATION_POLL": str(POLL), "REVOCATION_MAX_STALE": str(max_stale),
                    "REVOCATION_CLOCK_SKEW": str(CLOCK_SKEW), "FETCH_TIMEOUT": str(FETCH_TIMEOUT)}  # fmt: skip
    return Stage(site, proxy, verifier_env, workdir / "verifier.log", max_stale)


def run(env: dict[str, str], workdir: Path, history: History, *, users: dict = DEMO_USERS, instances: int = 1,
        seconds: float, verbose: bool = False) -> list[Drill]:  # fmt: skip
    """Every phase, on a site, proxy and verifier of the drill's own; every process stopped by pid."""
    workdir.mkdir(parents=True, exist_ok=True)
    max_stale = max(2.0, seconds)
    stage = start_stage(env, workdir, max_stale=max_stale)
    hold = max(seconds, stage.bounds["stopped"] + 1)  # past B: the verifier must have said it refuses
    try:
        stage.start_verifier()
        wait_until(lambda: stage.health().get("status") == "ok", timeout=30, what="the verifier's first feed")
        live = stage.probe(bearer(stage.site.url, *users["token"]), f"{users['token'][0]}/verifier-token-live")
        drills = [
            phase(stage, history, live, fresh_revocation(stage, users, n), fault=fault, mode=mode,
                  hold=seconds if mode == "delay" else hold, verbose=verbose)
            for n, (fault, mode) in enumerate((("verifier feed delayed", "delay"), ("verifier feed cut", "cut"),
                                               ("verifier feed replayed", "replay")), start=1)
        ]  # fmt: skip
        drills.append(restart_while_cut(stage, history, live, hold=hold, verbose=verbose))
        return drills
    finally:
        for stop in (stage.verifier.stop if stage.verifier else None, stage.proxy.stop, stage.site.stop):
            if stop:
                with contextlib.suppress(Exception):
                    stop()
