"""Helpers the tests import: polling, service checks, README scripts, logins, cache settings.

Fixtures live in the conftest.py beside the tests that use them (tests/conftest.py for those
of several folders); what a test module imports from elsewhere comes from a module like this
one, never from a conftest.py or another test module (tests/test_layout.py checks it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from accounts.selectors import CUTOFF_KEY_PREFIX
from harness.logins import log_in
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need(reason: str) -> None:
    """Skip for a missing service, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def eventually(condition, *, within: float = 10.0, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail after `within` seconds (a bound on a hung
    test, not a speed assertion: speed is measured by `make bench`)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not hold within {within} s")
        time.sleep(0.01)


def listener_log(copies, caplog) -> list[str]:
    """The levels and messages logged by `copies`'s own listener thread (copies.channel), not
    by the other listeners this process may run."""
    ident = copies._thread.ident
    return [f"{record.levelname} {record.getMessage()}" for record in caplog.records if record.thread == ident]


README = ROOT / "README.md"


def readme_script(after: str) -> str:
    """Return the first ```sh block of README.md that follows the text `after`."""
    section = README.read_text().split(after, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def run_readme_script(script: str, *, cwd: Path, **env: str) -> None:
    """Run a README curl walkthrough as written (bash -euo pipefail, real curl) and check that
    it prints exactly one line per `# => ` comment, each containing what the comment says."""
    if shutil.which("curl") is None:
        need("curl is not installed")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout.splitlines()
    expected = [line.removeprefix("# => ") for line in script.splitlines() if line.startswith("# => ")]
    assert len(output) == len(expected), result.stdout
    for got, want in zip(output, expected, strict=True):
        assert want in got


# -- settings ---------------------------------------------------------------------------


def redis_cache_settings(url: str, prefix: str, *, copies: tuple[str, ...] | None = None) -> dict:
    """A cache on Redis at `url`: copies.redis_cache.TrackingRedisCache keeping copies of the
    keys under `copies`, or by default as the site configures it (with LOCAL_TIER=on, copies
    of the cut-off; with LOCAL_TIER=off, django-redis's RedisCache)."""
    if copies is None:
        copies = (CUTOFF_KEY_PREFIX,) if django_settings.LOCAL_TIER == "on" else ()
    return with_copies(
        {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        },
        copies,
    )


def with_copies(config: dict, copies: tuple[str, ...]) -> dict:
    if not copies:
        return config
    options = {**config["OPTIONS"], "COPY_PREFIXES": list(copies)}
    return {**config, "BACKEND": "copies.redis_cache.TrackingRedisCache", "OPTIONS": options}


def use_key_ring(settings, directory: Path, algorithm: str) -> str:
    """Sign with `algorithm` from a fresh key ring in `directory`; return the active kid."""
    from api import keys

    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ALGORITHM": algorithm}
    settings.JWT_KEYS_DIR = directory
    kid = keys.generate_key(directory=directory, algorithm=algorithm)
    keys.activate_key(directory=directory, kid=kid, algorithm=algorithm)
    return kid


# -- clients and servers ---------------------------------------------------------------------


def client_logged_in_as(user, password: str = PASSWORD, **extra):
    """Another browser: a fresh test Client logged in as `user` through the real login form."""
    from django.test import Client

    other = Client(**extra)
    response = other.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code == 302, response.content
    return other


def form_login(base: str, username: str) -> requests.Session:
    """Log in through a server's real login form, as a browser would (harness.logins.log_in)."""
    return log_in(base, username, PASSWORD)


def log_out_everywhere(browser: requests.Session, base: str) -> None:
    """Press "log out everywhere" on a server's sessions page."""
    response = browser.post(
        f"{base}/accounts/sessions/everywhere/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/sessions/"},
        timeout=10,
    )
    assert response.status_code == 200, response.status_code


@contextmanager
def replica_paused(stores):
    """Stop every replica for the block (WAIT 1 needs one of them); after it, wait until they
    all acknowledge the primary again, so the next test starts with replicas in step (a
    just-resumed one can miss a short WAIT)."""
    replicas = [(replica, replica.pid) for replica in stores.replicas_now()]
    for _, pid in replicas:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for _, pid in replicas:
            os.kill(pid, signal.SIGCONT)
        primary = stores.client(stores.primary())
        deadline = time.monotonic() + 15
        while primary.execute_command("WAIT", len(replicas), 200) < len(replicas):
            assert time.monotonic() < deadline, "the replicas did not catch up within 15 s of SIGCONT"


@contextmanager
def postgres_killed(statement: str, *, after: bool = False):
    """For the block, end this thread's PostgreSQL connection with pg_terminate_backend (from a
    connection of its own) just before the first statement that starts with `statement` runs,
    or just after it ran (`after`: the transaction's next statement or its COMMIT fails).
    Yields a dict whose "killed" says whether it happened; the dead connection is closed after."""
    import psycopg
    from django.db import connection

    state = {"killed": False}

    def kill() -> None:
        cfg = connection.settings_dict
        with psycopg.connect(
            host=cfg.get("HOST") or "127.0.0.1", port=cfg.get("PORT") or 5432, user=cfg.get("USER"),
            dbname=cfg["NAME"], autocommit=True,
        ) as side:  # fmt: skip
            side.execute("SELECT pg_terminate_backend(%s)", (connection.connection.info.backend_pid,))
        state["killed"] = True

    def wrapper(execute, sql, params, many, context):
        hit = not state["killed"] and sql.startswith(statement)
        if hit and not after:
            kill()
        result = execute(sql, params, many, context)
        if hit and after:
            kill()
        return result

    try:
        with connection.execute_wrapper(wrapper):
            yield state
    finally:
        connection.close()  # a server does this at the end of the request (close_old_connections)


# -- the browser (tests/e2e) ------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no calls home, no updates, no sync, no QUIC, so a run touches only
# the test server. Playwright gives every launch a new, empty user-data directory.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


# -- clients that hold a connection without finishing a request (the site and the verifier) ------

SLOW_CLIENTS = 50
HALF_A_HEADER = b"GET /api/dashboard/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bear"


def open_slow_clients(stack, url: str, sent: bytes, count: int = SLOW_CLIENTS) -> None:
    """Open `count` connections to `url` (entered into the ExitStack `stack`, closed with it)
    that send `sent` and then nothing: half a request header, or b"" for a silent client."""
    host, port = url.removeprefix("http://").split(":")
    for _ in range(count):
        client = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
        client.sendall(sent)
