"""The services a run starts: a database and Redis db of its own, server processes, free ports.

The test suite, the benchmark, the load test and the cluster all start the site this way.
Only databases whose name starts with the caller's prefix (`authdemo_bench` by default) are
ever dropped or created here; the test suite's `test` and `test_*` databases are never touched.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST_URL = PG_ADMIN_URL.rsplit("/", 1)[0]
REDIS_HOST_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
LOG_PROBLEMS = re.compile(r"IntegrityError|duplicate key|Traceback|\bERROR\b|\bCRITICAL\b")


@dataclass(frozen=True)
class Stores:
    """Where one run (a benchmark, a load test, a cluster) keeps its data."""

    database: str
    redis_db: int

    @property
    def database_url(self) -> str:
        return f"{PG_HOST_URL}/{self.database}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_HOST_URL}/{self.redis_db}"

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


def recreate_database(stores: Stores, *, prefix: str = "authdemo_bench", flush_redis: bool = True) -> None:
    """Drop and create a database of our own and empty its Redis db; refuse any other name."""
    if not stores.database.startswith(prefix):
        raise ValueError(f"refusing to recreate {stores.database!r}: its name does not start with {prefix}")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{stores.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{stores.database}"')
    if flush_redis:
        stores.redis().flushdb()


# Every client of the harness comes from 127.0.0.1: per-address limits (accounts.limits)
# would turn a run into a test of the limiter. Lockout (django-axes) stays on.
NO_ADDRESS_LIMITS = {
    name: "1000000/s" for name in ("AUTH_LOGIN_RATE", "AUTH_LOGIN_FAILURE_RATE", "AUTH_SIGNUP_RATE", "AUTH_RESET_RATE")
}


def base_env(stores: Stores) -> dict[str, str]:
    """Production settings (debug off, Argon2) with fresh secrets, pointed at the given stores."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "authdemo.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DATABASE_URL": stores.database_url,
        "REDIS_URL": stores.redis_url,
        "LOG_LEVEL": "WARNING",
        "AUTH_THROTTLE_RATE": "100000/minute",  # one client logs in hundreds of times: not an attack
        "PYTHONUNBUFFERED": "1",
        "EMAIL_URL": "dummymail://",  # no mail leaves a harness run
        "SITE_URL": "http://127.0.0.1",  # the origin of mailed links, required with debug off
        **NO_ADDRESS_LIMITS,
    }


def manage(env: dict[str, str], *args: str) -> None:
    """Run one of our own manage.py commands (a fixed command, no shell)."""
    command = [sys.executable, "manage.py", *args, "--verbosity", "0"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603


def collect_static_if_stale(env: dict[str, str]) -> None:
    """Debug off serves static files from the collected manifest: collect when static/ changed."""
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    newest = max(path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file())
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        manage(env, "collectstatic", "--no-input")


def prepare_site(env: dict[str, str]) -> None:
    """Collect static files (when changed), migrate the run's database and create the demo users."""
    collect_static_if_stale(env)
    manage(env, "migrate", "--no-input")
    manage(env, "seed_demo", "--force")


_ports_handed_out: set[int] = set()
_ports_lock = threading.Lock()


def free_port() -> int:
    """A port free on 127.0.0.1 now and not handed out before by this process: several are
    often chosen before any of their servers binds, and the kernel may offer one twice."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        with _ports_lock:
            if port not in _ports_handed_out:
                _ports_handed_out.add(port)
                return port


# The HTTP servers a Server can run. granian is the site's (README "Serving": the measured
# winner, and slow clients hold none of its threads); the gunicorn kinds stay for the benchmark,
# which reports them beside it.
GRANIAN, GUNICORN_SYNC, GUNICORN_GTHREAD = "granian", "gunicorn-sync", "gunicorn-gthread"
SERVER_KINDS = (GRANIAN, GUNICORN_SYNC, GUNICORN_GTHREAD)


@dataclass
class Server:
    """One server process on 127.0.0.1 with its workers; the bench, the load test, the cluster
    and the test suite all start the site this way.

    `kind` is the HTTP server: "granian" (default; `python -m serving`, as `make serve` runs
    it), "gunicorn-sync" (one request at a time per process, a connection per request) or
    "gunicorn-gthread". `workers` processes, each running the app on `threads` threads (granian's
    blocking threads, gthread's threads; a sync worker has one). The old `worker_class="sync"`
    / `"gthread"` still works and means the gunicorn kind of that name.

    `worker_pids()` are the processes that run the app (the benchmark counts their CPU): the
    children of the master under every kind. `stop()` sends SIGTERM to the master (requests in
    flight finish) and SIGKILL after 15 s. `log_problems()` are the lines of the log that show
    an error. The master gets a session of its own, so a test's Ctrl-C does not reach it.
    """

    name: str
    env: dict[str, str]
    log: Path
    app: str = "authdemo.wsgi:application"
    kind: str = GRANIAN
    workers: int = 1
    threads: int = 4  # granian and gunicorn-gthread
    worker_class: str | None = None  # "sync" or "gthread": the same as kind="gunicorn-<class>"
    ready_path: str = "/healthz"
    access_log: bool = False  # off where it would be measured; on where a test reads it
    # gunicorn only: load the app before binding the port (a restarted instance then refuses
    # connections while it loads, and a proxy moves on). granian (python -m serving) always does.
    preload: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        if self.worker_class is not None:
            self.kind = f"gunicorn-{self.worker_class}"
        if self.kind not in SERVER_KINDS:
            raise ValueError(f"unknown server kind {self.kind!r}; one of {', '.join(SERVER_KINDS)}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The master's command line; the cluster runs it under supervisord."""
        bind = ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        if self.kind == GRANIAN:
            return [sys.executable, "-m", "serving", self.app, *bind, "--threads", str(self.threads),
                    *(["--access-log"] if self.access_log else [])]  # fmt: skip
        worker_class = self.kind.removeprefix("gunicorn-")
        return [
            sys.executable, "-m", "gunicorn", self.app, *bind, "--worker-class", worker_class,
            *(["--threads", str(self.threads)] if worker_class == "gthread" else []),
            "--keep-alive", "30", "--error-logfile", "-", *(["--access-logfile", "-"] if self.access_log else []),
            *(["--preload"] if self.preload else []),
        ]  # fmt: skip

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def wait_ready(self, timeout: float = 30) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {self.ready_path}; see {self.log}")

    def worker_pids(self) -> list[int]:
        """The master's children, whichever of its threads forked them (empty once it is gone)."""
        pids = []
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            try:
                pids += [int(pid) for pid in children.read_text().split()]
            except OSError:  # the thread or the master ended meanwhile
                continue
        return sorted(pids)

    def log_problems(self) -> list[str]:
        """Lines of the server log that show an error: IntegrityError, tracebacks, ERROR logs."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if LOG_PROBLEMS.search(line)]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class VerifierServer(Server):
    """The token verifier (`python -m verifier`, as `make verifier` runs it) on a free port.
    Its environment needs JWKS_URL; PORT is set here."""

    def command(self) -> list[str]:
        self.env = {**self.env, "PORT": str(self.port)}
        return [sys.executable, "-m", "verifier"]

    def health(self) -> dict:
        return requests.get(f"{self.url}/healthz", timeout=5).json()


def start_all(servers: list[Server]) -> list[Server]:
    """Start every server at once, then wait for each: start-up overlaps."""
    for server in servers:
        server.start()
    for server in servers:
        server.wait_ready()
    return servers


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's package when it is missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is missing; install it with `sudo apt-get install -y wrk` and run again.")
    return found


def wait_until(check: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds.

    A check that raises (a store or server not answering yet) counts as not yet.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (redis.RedisError, requests.RequestException, OSError, xmlrpc.client.Error):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
