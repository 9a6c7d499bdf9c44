"""The virtual users of `make loadtest`, on Locust: `python -m loadtest` runs this file.

Each user logs in through the pages and the API, then mixes requests until the run
stops. Every answer is checked for its status and for naming its own user (HTML pages
may mention no other virtual user; JSON answers and token claims must carry this
user's name); a failed check is a Locust failure and a violation in the results. A
refresh that succeeds is one rotation: `python -m loadtest` compares their number with
the growth of the blacklist afterwards.

Run headless by `python -m loadtest`, which passes the options below and reads
`--results` when Locust quits; `python -m loadtest --ui` opens Locust's web UI instead.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

import gevent
from gevent.event import Event
from locust import HttpUser, events, task
from locust.exception import StopUser

from accounts.vocabulary import Via
from loadtest.seed import username

TIMEOUT = 60  # a slow answer is reported in p99; only a stuck one is an error
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
USER_NAME = re.compile(r"\bload\d{4}\b")


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument(
        "--mix-seconds", type=float, default=0, help="seconds of mixed load after the ramp-up (0: until stopped)"
    )
    parser.add_argument("--ramp-limit", type=float, default=120, help="seconds allowed for every user's first logins")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between a user's requests (s)")
    parser.add_argument("--results", default="", help="write counts, violations and p50/p99 here (JSON) on quit")


class Run:
    """What the users share in this process: counts, violations, and the start of the mix.

    Logins cost an Argon2 hash each, so on a small machine the ramp-up alone can take
    longer than a short run: in a headless run the mix starts for all users when the last
    one has logged in (bounded by --ramp-limit), and lasts --mix-seconds.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.violations: list[str] = []
        self.indexes = itertools.count()
        self.ready = Event()
        self.logged_in = 0
        self.started = self.mix_started = 0.0

    def violation(self, message: str) -> None:
        self.violations.append(message)

    def user_ready(self, environment) -> None:
        """Count a user through its first logins; start the timed mix when all are in."""
        self.logged_in += 1
        if self.logged_in >= environment.parsed_options.num_users and not self.ready.is_set():
            self.mix_started = time.monotonic()
            self.ready.set()
            seconds = environment.parsed_options.mix_seconds
            if seconds:
                gevent.spawn_later(seconds, environment.runner.quit)


RUN = Run()


@events.test_start.add_listener
def _started(environment, **_kwargs) -> None:
    RUN.started = time.monotonic()
    if not environment.parsed_options.headless:
        RUN.ready.set()  # a person drives the web UI: users mix as soon as they are in


@events.quitting.add_listener
def _write_results(environment, **_kwargs) -> None:
    path = environment.parsed_options.results
    if not path:
        return
    rows = [
        {"kind": name, "count": entry.num_requests, "p50_ms": entry.get_response_time_percentile(0.5),
         "p99_ms": entry.get_response_time_percentile(0.99)}
        for (name, _method), entry in sorted(environment.stats.entries.items())
    ]  # fmt: skip
    total = environment.stats.total
    rows.append({"kind": "overall", "count": total.num_requests, "p50_ms": total.get_response_time_percentile(0.5),
                 "p99_ms": total.get_response_time_percentile(0.99)})  # fmt: skip
    ramp = (RUN.mix_started or time.monotonic()) - RUN.started if RUN.started else 0.0
    results = {"counts": RUN.counts, "violations": RUN.violations, "latency": rows, "ramp_seconds": ramp}
    Path(path).write_text(json.dumps(results, indent=1))


def claims(token: str) -> dict:
    """The payload of a JWT, unverified: only to see whom the server named in it."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class VirtualUser(HttpUser):
    """One seeded user (`load0007`) with its own cookie jar, session and token pair."""

    def wait_time(self) -> float:
        return self.rng.uniform(0, 2 * self.environment.parsed_options.think)

    def on_start(self) -> None:
        index = next(RUN.indexes)
        self.username = username(index)
        self.rng = random.Random(index)  # noqa: S311  (a repeatable mix, not a secret)
        self.password = os.environ["LOADTEST_PASSWORD"]
        self.access = self.refresh = ""
        self.login()
        self.obtain()
        RUN.user_ready(self.environment)
        if not RUN.ready.wait(timeout=self.environment.parsed_options.ramp_limit):
            RUN.violation(
                f"{self.username}: the ramp-up did not finish within {self.environment.parsed_options.ramp_limit:.0f} s"
            )
            gevent.spawn(self.environment.runner.quit)  # not from this user's own greenlet, which quit() kills
            raise StopUser

    def call(self, kind: str, method: str, path: str, expect: int, check=None, **kwargs):
        """Send one request named `kind`; a failure (and a violation) unless it answers `expect`
        and `check(response)` returns no complaint. Return the response when it passed."""
        with self.client.request(
            method, path, name=kind, catch_response=True, allow_redirects=False, timeout=TIMEOUT, **kwargs
        ) as response:
            if response.status_code != expect:
                body = (response.text or repr(response.error))[:200].replace("\n", " ")
                complaint = f"HTTP {response.status_code} {body}"
            else:
                complaint = check(response) if check else None
            if complaint:
                response.failure(complaint)
                RUN.violation(f"{kind} {method} {path} as {self.username}: {complaint}")
                return None
            response.success()
            return response

    def names(self, found: object) -> str | None:
        """No complaint if the answer named this user."""
        RUN.counts["identity_checks"] += 1
        return None if found == self.username else f"the answer names {found!r}"

    def csrf_cookie(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    # -- first logins ------------------------------------------------------------------

    def login(self) -> None:
        page = self.call("login_form", "GET", "/accounts/login/", 200)
        match = CSRF_FIELD.search(page.text) if page is not None else None
        if match is None:
            return
        form = {"username": self.username, "password": self.password, "csrfmiddlewaretoken": match.group(1)}

        def lands_on_profile(response) -> str | None:
            location = response.headers.get("Location", "")
            return None if location.endswith("/accounts/profile/") else f"redirected to {location!r}"

        if self.call("login", "POST", "/accounts/login/", 302, check=lands_on_profile, data=form) is not None:
            RUN.counts["logins"] += 1

    def obtain(self) -> None:
        body = {"username": self.username, "password": self.password}
        self.call("token_obtain", "POST", "/api/token/", 200, check=lambda r: self.takes_pair(r, "obtains"), json=body)

    def takes_pair(self, response, counter: str) -> str | None:
        """Count the pair the server minted (`obtains` or `rotations`); keep it if both tokens name this user."""
        RUN.counts[counter] += 1
        pair = response.json()
        complaint = self.names(claims(pair["access"]).get("username")) or self.names(
            claims(pair["refresh"]).get("username")
        )
        if complaint is None:
            self.access, self.refresh = pair["access"], pair["refresh"]
        return complaint

    # -- the mix (weights: pages and API reads dominate; logins are rarer: Argon2) -----

    @task(30)
    def page(self) -> None:
        path = self.rng.choice(["/accounts/profile/", "/", "/accounts/sessions/"])
        self.call(
            "page",
            "GET",
            path,
            200,
            check=lambda r: self.names(",".join(sorted(set(USER_NAME.findall(r.text)))) or None),
        )

    @task(18)
    def api_me_bearer(self) -> None:
        self.api_me(bearer=True)

    @task(12)
    def api_me_session(self) -> None:
        self.api_me(bearer=False)

    def api_me(self, *, bearer: bool) -> None:
        via = Via.JWT_BEARER if bearer else Via.SESSION

        def answers_as_user(response) -> str | None:
            body = response.json()
            if body.get("authenticated_by") != via:
                return f"authenticated by {body.get('authenticated_by')}"
            return self.names(body.get("username"))

        headers = self.bearer() if bearer else {}
        self.call(
            f"api_me_{'bearer' if bearer else 'session'}",
            "GET",
            "/api/me/",
            200,
            check=answers_as_user,
            headers=headers,
        )

    @task(18)
    def api_dashboard(self) -> None:
        def greets_user(response) -> str | None:
            body = response.json()
            return self.names(body.get("message", "").removeprefix("Access granted to ")) or self.names(
                body.get("data", {}).get("username")
            )

        self.call("api_dashboard", "GET", "/api/dashboard/", 200, check=greets_user, headers=self.bearer())

    @task(18)
    def refresh_pair(self) -> None:
        body = {"refresh": self.refresh}
        self.call(
            "token_refresh",
            "POST",
            "/api/token/refresh/",
            200,
            check=lambda r: self.takes_pair(r, "rotations"),
            json=body,
        )

    @task(2)
    def obtain_again(self) -> None:
        self.obtain()

    @task(2)
    def relogin(self) -> None:
        if (
            self.call("logout", "POST", "/accounts/logout/", 302, headers={"X-CSRFToken": self.csrf_cookie()})
            is not None
        ):
            self.login()

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}
