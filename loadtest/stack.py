"""The services under load: a database and a Redis db of its own, and one gunicorn server.

Only databases whose name starts with `authdemo_load` are ever dropped or created here;
the suite's `test`/`test_*` databases and the benchmark's `authdemo_bench*` are never
touched. The server runs the production settings (debug off, Argon2, fresh secrets).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("LOADTEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_HOST_URL = PG_ADMIN_URL.rsplit("/", 1)[0]
REDIS_HOST_URL = os.environ.get("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379")
# Every virtual user comes from 127.0.0.1: per-address throttling would turn this into a
# throttling test. Lockout (django-axes) stays on; it only counts failed logins.
UNTHROTTLED = "1000000/minute"
LOG_PROBLEMS = re.compile(r"IntegrityError|duplicate key|Traceback|\bERROR\b|\bCRITICAL\b")


@dataclass(frozen=True)
class Stores:
    """Where one load run keeps its data."""

    database: str = "authdemo_load"
    redis_db: int = 8

    @property
    def database_url(self) -> str:
        return f"{PG_HOST_URL}/{self.database}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_HOST_URL}/{self.redis_db}"


def recreate(stores: Stores) -> None:
    """Drop and create the load database and empty its Redis db; refuse any other name."""
    if not stores.database.startswith("authdemo_load"):
        raise ValueError(f"refusing to recreate {stores.database!r}: not a load-test database")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{stores.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{stores.database}"')
    redis.Redis.from_url(stores.redis_url, socket_timeout=5).flushdb()


def site_env(stores: Stores, sessions: str) -> dict[str, str]:
    """Production settings with fresh secrets, pointed at the load stores."""
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
        "SESSION_BACKEND": sessions,
        "AUTH_THROTTLE_RATE": UNTHROTTLED,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def manage(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "manage.py", *args]  # our own fixed commands, no shell
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603


def static_files_stale() -> bool:
    manifest = ROOT / "staticfiles" / "staticfiles.json"
    newest = max(path.stat().st_mtime for path in (ROOT / "static").rglob("*") if path.is_file())
    return not manifest.exists() or manifest.stat().st_mtime < newest


def prepare(env: dict[str, str], *, users: int, password: str) -> None:
    """Collect static files (when changed), migrate, create the virtual users (one Argon2 hash, reused)."""
    if static_files_stale():  # debug off serves from the collected manifest
        manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    manage(env, "migrate", "--no-input", "--verbosity", "0")
    subprocess.run(  # noqa: S603  (our own fixed command, no shell)
        [sys.executable, "-m", "loadtest.seed", str(users)],
        cwd=ROOT,
        env={**env, "LOADTEST_PASSWORD": password},
        check=True,
        capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """One gunicorn master with gthread workers on 127.0.0.1."""

    env: dict[str, str]
    log: Path
    workers: int = 2
    threads: int = 8
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        command = [
            sys.executable, "-m", "gunicorn", "authdemo.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--worker-class", "gthread", "--threads", str(self.threads),
            "--keep-alive", "30", "--error-logfile", "-",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /readyz; see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_problems(self) -> list[str]:
        """Lines of the server log that show an error: IntegrityError, tracebacks, ERROR logs."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if LOG_PROBLEMS.search(line)]
