"""`make loadtest-quick` in CI: the bounded load run exits 0 and prints its summary.

It needs PostgreSQL and Redis on 127.0.0.1, whatever database the suite itself runs on:
the load run creates its own `authdemo_load_quick` database and uses Redis db 8.
Latencies are printed, never asserted.
"""

import subprocess
import sys

import psycopg
import pytest
import redis

from loadtest import stack
from tests.conftest import ROOT, need

pytestmark = [pytest.mark.server, pytest.mark.redis]
DATABASE = "authdemo_load_quick"


def require_services() -> None:
    try:
        psycopg.connect(stack.PG_ADMIN_URL, connect_timeout=2).close()
    except psycopg.Error:
        need(f"the load test needs PostgreSQL at {stack.PG_ADMIN_URL}")
    try:
        redis.Redis.from_url(stack.REDIS_HOST_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        need(f"the load test needs Redis at {stack.REDIS_HOST_URL}")


def test_quick_load_run_passes_and_reports():
    require_services()
    command = [sys.executable, "-m", "loadtest", "--quick", "--database", DATABASE]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    print(result.stdout[-4000:], result.stderr[-4000:])  # the p50/p99 table, shown with -rP or on failure
    assert "loadtest summary:" in result.stdout
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "loadtest: PASS" in result.stdout
