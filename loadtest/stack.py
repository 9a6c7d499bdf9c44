"""The services under load: a database and a Redis db of its own, and one gunicorn server.

Only databases whose name starts with `authdemo_load` are ever dropped or created here;
the suite's `test`/`test_*` databases and the benchmark's `authdemo_bench*` are never
touched. The server runs the production settings (debug off, Argon2, fresh secrets).
The stores and the server are the benchmark's own (bench.stack).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.stack import ROOT, Server, Stores, base_env, collect_static_if_stale, manage, recreate_database

__all__ = ["ROOT", "Stores", "load_server", "prepare", "recreate", "site_env"]

# Every virtual user comes from 127.0.0.1: per-address throttling would turn this into a
# throttling test. Lockout (django-axes) stays on; it only counts failed logins.
UNTHROTTLED = "1000000/minute"


def recreate(stores: Stores) -> None:
    """Drop and create the load database and empty its Redis db; refuse any other name."""
    recreate_database(stores, prefix="authdemo_load")


def site_env(stores: Stores, sessions: str) -> dict[str, str]:
    """Production settings with fresh secrets, pointed at the load stores."""
    return {**base_env(stores), "SESSION_BACKEND": sessions, "AUTH_THROTTLE_RATE": UNTHROTTLED}


def prepare(env: dict[str, str], *, users: int, password: str) -> None:
    """Collect static files (when changed), migrate, create the virtual users (one Argon2 hash, reused)."""
    collect_static_if_stale(env)
    manage(env, "migrate", "--no-input")
    subprocess.run(  # noqa: S603  (our own fixed command, no shell)
        [sys.executable, "-m", "loadtest.seed", str(users)],
        cwd=ROOT,
        env={**env, "LOADTEST_PASSWORD": password},
        check=True,
        capture_output=True,
    )


def load_server(env: dict[str, str], log: Path) -> Server:
    """The site under load: two gthread workers of eight threads, ready when /readyz says so."""
    server = Server("load", env, log, app="authdemo.wsgi", workers=2, threads=8, ready_path="/readyz")
    return server.start().wait_ready()
