"""Virtual users: each logs in through the pages and the API, then mixes requests until time is up.

Every answer is checked for the expected status and for naming its own user: HTML pages
may mention no other virtual user, JSON answers and token claims must carry this user's
name. A refresh that succeeds is one rotation; the run compares their number with the
growth of the blacklist afterwards.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import Counter, defaultdict
from time import perf_counter

import requests

from accounts.vocabulary import Via

TIMEOUT = 60  # a slow answer is reported in p99; only a stuck one is an error
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
USER_NAME = re.compile(r"\bload\d{4}\b")
# (action, weight): pages and API reads dominate; refreshes rotate; logins are rarer (Argon2).
MIX = [
    ("page", 30),
    ("api_me_bearer", 18),
    ("api_dashboard", 18),
    ("api_me_session", 12),
    ("refresh", 18),
    ("obtain", 2),
    ("relogin", 2),
]


class Phase:
    """Every user logs in first; the timed mix starts for all when the last one is ready.

    Logins cost an Argon2 hash each, so on a small machine the ramp-up alone can take
    longer than a short run: it is bounded separately, by `ramp_limit`.
    """

    def __init__(self, *, users: int, seconds: float, ramp_limit: float) -> None:
        self.seconds, self.ramp_limit = seconds, ramp_limit
        self.started = self.stop_at = 0.0
        self._barrier = threading.Barrier(users, action=self._start)

    def _start(self) -> None:
        self.started = time.monotonic()
        self.stop_at = self.started + self.seconds

    def wait_ready(self) -> bool:
        try:
            self._barrier.wait(timeout=self.ramp_limit)
        except threading.BrokenBarrierError:
            return False
        return True


class Recorder:
    """Latencies per request type, counters and violations, shared by all virtual users."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.counts: Counter[str] = Counter()
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def timing(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append(seconds)  # list.append is atomic under the GIL

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def violation(self, message: str) -> None:
        with self._lock:
            self.violations.append(message)


def claims(token: str) -> dict:
    """The payload of a JWT, unverified: only to see whom the server named in it."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class VirtualUser:
    """One user with its own cookie jar, session and token pair."""

    def __init__(self, *, base: str, name: str, password: str, recorder: Recorder, seed: int) -> None:
        self.base, self.name, self.password, self.recorder = base, name, password, recorder
        self.http = requests.Session()
        self.rng = random.Random(seed)  # noqa: S311  (a repeatable mix, not a secret)
        self.access = self.refresh = ""

    def call(self, kind: str, method: str, path: str, expect: int, **kwargs) -> requests.Response | None:
        """Send one request; record its time, and a violation unless it answered `expect`."""
        started = perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.recorder.violation(f"{kind} {method} {path} as {self.name}: {exc!r}")
            return None
        finally:
            self.recorder.timing(kind, perf_counter() - started)
        if response.status_code != expect:
            body = response.text[:200].replace("\n", " ")
            self.recorder.violation(f"{kind} {method} {path} as {self.name}: HTTP {response.status_code} {body}")
            return None
        return response

    def expect_name(self, kind: str, found: object) -> None:
        self.recorder.count("identity_checks")
        if found != self.name:
            self.recorder.violation(f"{kind} as {self.name}: the answer names {found!r}")

    def expect_only_own_name(self, kind: str, html: str) -> None:
        self.expect_name(kind, ",".join(sorted(set(USER_NAME.findall(html)))) or None)

    def csrf_cookie(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    # -- actions -------------------------------------------------------------------------

    def login(self) -> None:
        page = self.call("login_form", "GET", "/accounts/login/", 200)
        match = CSRF_FIELD.search(page.text) if page is not None else None
        if match is None:
            return
        form = {"username": self.name, "password": self.password, "csrfmiddlewaretoken": match.group(1)}
        response = self.call("login", "POST", "/accounts/login/", 302, data=form)
        if response is not None:
            self.recorder.count("logins")
            if not response.headers.get("Location", "").endswith("/accounts/profile/"):
                self.recorder.violation(f"login as {self.name}: redirected to {response.headers.get('Location')}")

    def relogin(self) -> None:
        if self.call("logout", "POST", "/accounts/logout/", 302, headers={"X-CSRFToken": self.csrf_cookie()}):
            self.login()

    def obtain(self) -> None:
        body = {"username": self.name, "password": self.password}
        response = self.call("token_obtain", "POST", "/api/token/", 200, json=body)
        if response is not None:
            self.recorder.count("obtains")
            self.take_pair("token_obtain", response.json())

    def refresh_pair(self) -> None:
        response = self.call("token_refresh", "POST", "/api/token/refresh/", 200, json={"refresh": self.refresh})
        if response is not None:
            self.recorder.count("rotations")
            self.take_pair("token_refresh", response.json())

    def take_pair(self, kind: str, pair: dict) -> None:
        self.access, self.refresh = pair["access"], pair["refresh"]
        self.expect_name(kind, claims(self.access).get("username"))
        self.expect_name(kind, claims(self.refresh).get("username"))

    def page(self) -> None:
        path = self.rng.choice(["/accounts/profile/", "/", "/accounts/sessions/"])
        response = self.call("page", "GET", path, 200)
        if response is not None:
            self.expect_only_own_name("page", response.text)

    def api_me(self, *, bearer: bool) -> None:
        kind = "api_me_bearer" if bearer else "api_me_session"
        headers = {"Authorization": f"Bearer {self.access}"} if bearer else {}
        response = self.call(kind, "GET", "/api/me/", 200, headers=headers)
        if response is not None:
            body = response.json()
            self.expect_name(kind, body.get("username"))
            if body.get("authenticated_by") != (Via.JWT_BEARER if bearer else Via.SESSION):
                self.recorder.violation(f"{kind} as {self.name}: authenticated by {body.get('authenticated_by')}")

    def api_dashboard(self) -> None:
        response = self.call("api_dashboard", "GET", "/api/dashboard/", 200, headers=self.bearer())
        if response is not None:
            body = response.json()
            self.expect_name("api_dashboard", body.get("message", "").removeprefix("Access granted to "))
            self.expect_name("api_dashboard", body.get("data", {}).get("username"))

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def act(self, action: str) -> None:
        {
            "page": self.page,
            "api_me_bearer": lambda: self.api_me(bearer=True),
            "api_dashboard": self.api_dashboard,
            "api_me_session": lambda: self.api_me(bearer=False),
            "refresh": self.refresh_pair,
            "obtain": self.obtain,
            "relogin": self.relogin,
        }[action]()

    def run(self, *, phase: Phase, start_at: float, think: float) -> None:
        """Log in and obtain a pair; when all are ready, act until time is up, pausing about `think` s."""
        time.sleep(max(0.0, start_at - time.monotonic()))
        self.login()
        self.obtain()
        if not phase.wait_ready():
            self.recorder.violation(f"{self.name}: the ramp-up did not finish within {phase.ramp_limit:.0f} s")
            return
        actions, weights = zip(*MIX, strict=True)
        while time.monotonic() < phase.stop_at:
            self.act(self.rng.choices(actions, weights)[0])
            pause = self.rng.uniform(0, 2 * think)
            time.sleep(max(0.0, min(pause, phase.stop_at - time.monotonic())))
        self.http.close()
