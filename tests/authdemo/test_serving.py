"""The site under the server it runs on (harness.stack.Server's default, `python -m serving`, as
`make serve` and the cluster run it): what moving off gunicorn must not lose.

Security headers on a real answer, one access-log line per request, a request in flight
answered after SIGTERM, slow or silent clients that hold no thread of the app, and a bad
configuration that stops the server with one line before it listens. The timeouts bound a
hung test; speed is measured by `make bench`.
"""

from __future__ import annotations

import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests
from django.db import connection, transaction

from accounts.models import User
from harness.stack import Server, free_port
from tests.support import HALF_A_HEADER, ROOT, eventually, need, open_slow_clients

pytestmark = [pytest.mark.server]
TIMEOUT = 10  # a bound on a hung request, not a speed target


@pytest.fixture(scope="module")
def site(start_server):
    return start_server()


def test_real_answers_carry_the_security_headers(site):
    for path, status in (("/accounts/login/", 200), ("/healthz", 200), ("/no-such-page/", 404)):
        response = requests.get(f"{site.url}{path}", timeout=TIMEOUT)
        assert response.status_code == status, path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


def test_each_request_writes_an_access_log_line_without_its_query(site):
    marker = f"/healthz?probe={free_port()}"
    requests.get(f"{site.url}{marker}", timeout=TIMEOUT).raise_for_status()
    requests.get(f"{site.url}/no-such-page/", timeout=TIMEOUT)
    eventually(lambda: '"GET /no-such-page/ HTTP/1.1" 404' in site.log.read_text(), what="the access log line")
    assert '"GET /healthz HTTP/1.1" 200' in site.log.read_text()
    assert "probe=" not in site.log.read_text()  # a query string (a token, a code) is not logged


@pytest.mark.parametrize("sent", [HALF_A_HEADER, b""], ids=["half-a-header", "nothing"])
def test_slow_clients_hold_no_thread_of_a_one_thread_worker(server_env, tmp_path, sent):
    """One worker with one app thread: a thread per connection would be taken by the first."""
    server = Server("slow", server_env, tmp_path / "server.log", app="authdemo.wsgi", threads=1).start()
    try:
        server.wait_ready()
        with ExitStack() as stack:
            open_slow_clients(stack, server.url, sent)
            health = requests.get(f"{server.url}/healthz", timeout=TIMEOUT)
            refused = requests.get(f"{server.url}/api/dashboard/", timeout=TIMEOUT)
            assert health.status_code == 200
            assert refused.status_code == 401
            server.stop()  # SIGTERM with the slow clients still connected
        assert server.process.returncode == 0  # stopped, not killed
    finally:
        server.stop()


def waiting_on_a_lock(cursor) -> bool:
    """Whether a session of this database waits on a lock (the server's, on this test's).
    Inside a transaction pg_stat_activity answers from one snapshot: drop it first."""
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return cursor.fetchone()[0] > 0


@pytest.mark.postgres
def test_sigterm_lets_a_request_in_flight_finish(server_env, tmp_path, transactional_db):
    """A login waits in the app on a table this test holds locked; the server is told to stop;
    the lock is let go: the login is answered, and the server exits by itself."""
    if connection.vendor != "postgresql":
        need("the request in flight waits on a PostgreSQL lock")
    db = connection.settings_dict  # the server shares this test's database, where the lock is
    env = {**server_env, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = Server("term", env, tmp_path / "server.log", app="authdemo.wsgi", access_log=True).start()
    try:
        server.wait_ready()
        with ThreadPoolExecutor(1) as pool, connection.cursor() as cursor:
            with transaction.atomic():
                cursor.execute(f"LOCK TABLE {User._meta.db_table} IN ACCESS EXCLUSIVE MODE")
                login = pool.submit(requests.post, f"{server.url}/api/token/", timeout=60,
                                    json={"username": "nobody-here", "password": "not-the-password"})  # fmt: skip
                eventually(lambda: waiting_on_a_lock(cursor), within=30, what="the login to wait on the lock")
                server.process.send_signal(signal.SIGTERM)
                eventually(lambda: "Stopping worker" in server.log.read_text(), what="the server to begin stopping")
            answer = login.result()  # the transaction ended: the lock is let go
        assert answer.status_code == 401
        assert answer.json()["detail"]
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()


def test_a_bad_configuration_stops_the_server_in_one_line_before_it_listens(server_env, tmp_path):
    server = Server("bad", {**server_env, "DATABASE_CONN_MAX_AGE": "forever"}, tmp_path / "server.log",
                    app="authdemo.wsgi")  # fmt: skip
    result = subprocess.run(server.command(), cwd=ROOT, env=server.env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("authdemo: configuration error: DATABASE_CONN_MAX_AGE")


def test_a_failing_system_check_stops_the_server_in_one_line(server_env, tmp_path):
    """A settings module that copies ours and puts the Redis session engine on a local cache
    (accounts.E001): the check runs in the server at start, not at the first request."""
    (tmp_path / "copied_settings.py").write_text(
        "from authdemo.settings_test import *  # noqa\n"
        "CACHES = {**CACHES, 'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}\n"
        "SESSION_ENGINE = 'accounts.session_engines.redis'\n"
    )
    env = {**server_env, "DJANGO_SETTINGS_MODULE": "copied_settings", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    command = Server("check", env, tmp_path / "server.log", app="authdemo.wsgi").command()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("authdemo: configuration error: (accounts.E001) SESSION_ENGINE")
