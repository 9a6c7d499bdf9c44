"""The embedded default: SQLite connections are kept, their pragmas set once per connection."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from bench.load import COUNTED_APP, counters
from harness.stack import Server
from tests.support import ROOT

PRAGMAS = "from django.db import connection as c; cur = c.cursor(); " + "; ".join(
    f"print(cur.execute('PRAGMA {name}').fetchone()[0])" for name in ("journal_mode", "synchronous", "temp_store")
)


def _sqlite_env(base: dict[str, str], tmp_path) -> dict[str, str]:
    env = {key: value for key, value in base.items() if key != "REDIS_URL"}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}


def test_sqlite_connection_pragmas_are_set(tmp_path):
    command = [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", PRAGMAS]
    env = _sqlite_env({**os.environ, "DJANGO_SETTINGS_MODULE": "authdemo.settings"}, tmp_path)
    output = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert output.stdout.split() == ["wal", "1", "2"]  # WAL, synchronous NORMAL, temp_store MEMORY


def test_sqlite_connection_is_reused_across_requests(server_env, tmp_path):
    env, log = _sqlite_env(server_env, tmp_path), tmp_path / "server.log"
    server = Server("sqlite-reuse", env, log, app=COUNTED_APP, threads=2).start()
    try:
        server.wait_ready()
        for _ in range(20):
            assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
        assert 1 <= counters(server)["connections"] <= server.threads
    finally:
        server.stop()
