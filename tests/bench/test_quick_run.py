"""`make bench-quick` end to end: real gunicorn, PostgreSQL, Redis and wrk."""

import json
import os
import shutil

import psycopg
import pytest
import redis

from bench.schemes import SCHEMES
from bench.stack import PG_ADMIN_URL, REDIS_HOST_URL
from tests.conftest import need


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory) -> dict:
    """Run the quick benchmark once into a temporary directory; skip without its services."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the benchmark harness runs in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    if shutil.which("wrk") is None:
        need("wrk is not installed (apt-get install -y wrk)")
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        redis.Redis.from_url(REDIS_HOST_URL, socket_connect_timeout=1).ping()
    except (psycopg.Error, redis.RedisError) as exc:
        need(f"the benchmark needs PostgreSQL and Redis: {exc}")
    from bench.run import main

    out = tmp_path_factory.mktemp("bench")
    main(["--quick", "--out", str(out)])
    return {"json": json.loads((out / "latest.json").read_text()), "dir": out}


pytestmark = pytest.mark.server


def test_quick_run_measures_every_scheme(quick_results):
    assert set(quick_results["json"]["empty"]) == {scheme.key for scheme in SCHEMES}


def test_quick_run_counts_store_calls_of_each_scheme(quick_results):
    rows = quick_results["json"]["empty"]
    assert rows["healthz"]["sql_per_request"] == 0
    assert rows["jwt_stateless"]["sql_per_request"] == 0
    assert rows["jwt_db_user"]["sql_per_request"] == pytest.approx(1, abs=0.02)
    assert rows["jwt_cutoff"]["redis_per_request"] == pytest.approx(1, abs=0.02)


def test_quick_run_shows_revocation_crosses_processes(quick_results):
    cross = quick_results["json"]["scalability"]["cross_process"]
    assert (cross["session_on_b_before"], cross["session_on_b_after_revoke_on_a"]) == (200, 403)
    assert (cross["token_on_b_before"], cross["token_on_b_after_revoke_on_a"]) == (200, 401)


def test_quick_run_writes_markdown_and_svg(quick_results):
    assert "| JWT: stateless |" in (quick_results["dir"] / "latest.md").read_text()
    assert (quick_results["dir"] / "latest.svg").read_text().startswith("<svg")


def test_quick_run_skips_the_scale_phase(quick_results):
    assert quick_results["json"]["full"] is None
