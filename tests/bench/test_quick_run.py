"""`make bench-quick` end to end: real granian and gunicorn, uvicorn, node, PostgreSQL, Redis and wrk."""

import json
import shutil

import pytest

from bench.load import OTHER_SERVERS
from bench.scale import KEEP_ALIVE_REFRESH
from bench.schemes import ALL_SCHEMES
from tests.support import need


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory, harness_stores) -> dict:
    """Run the quick benchmark once into a temporary directory."""
    if shutil.which("wrk") is None:
        need("wrk is not installed (apt-get install -y wrk)")
    from bench.run import main

    out = tmp_path_factory.mktemp("bench")
    main(["--quick", "--out", str(out)])
    return {"json": json.loads((out / "latest.json").read_text()), "dir": out}


# Runs in CI's PostgreSQL pass; the SQLite pass deselects `postgres` tests (.ci/run).
pytestmark = [pytest.mark.server, pytest.mark.postgres]


def test_quick_run_measures_every_scheme(quick_results):
    assert set(quick_results["json"]["empty"]) == {scheme.key for scheme in ALL_SCHEMES}  # the peers too


def test_quick_run_measures_the_other_server_kinds(quick_results):
    from bench.run import QUICK

    results = quick_results["json"]
    assert results["server"] == "granian"
    assert {kind: set(rows) for kind, rows in results["servers"].items()} == dict.fromkeys(
        OTHER_SERVERS, set(QUICK.other_servers)
    )
    assert all(row["rps"] > 0 for rows in results["servers"].values() for row in rows.values())
    assert "/healthz on granian costs <= 1/1.6 of /healthz on gunicorn sync" in {
        t["target"] for t in results["targets"]
    }
    assert "| scheme | granian | gunicorn-sync | gunicorn-gthread |" in (quick_results["dir"] / "latest.md").read_text()


def test_quick_run_measures_one_and_two_workers(quick_results):
    rows = quick_results["json"]["workers"]["schemes"]
    assert set(rows) == {"healthz", "session_redis", "jwt_cutoff"}  # the rows /compare/ shows
    assert all(row["one"] > 0 and row["two"] > 0 for row in rows.values())
    assert "## One and two worker processes on this machine" in (quick_results["dir"] / "latest.md").read_text()


def test_quick_run_counts_store_calls_of_each_scheme(quick_results):
    rows = quick_results["json"]["empty"]
    assert rows["healthz"]["sql_per_request"] == 0
    assert rows["jwt_stateless"]["sql_per_request"] == 0
    assert rows["jwt_db_user"]["sql_per_request"] == pytest.approx(1, abs=0.02)
    assert rows["jwt_cutoff"]["redis_per_request"] == pytest.approx(0, abs=0.02)  # the local tier's copy
    assert rows["peer_express_session"]["redis_per_request"] >= 1  # connect-redis reads every request
    assert rows["peer_fastapi_session"]["redis_per_request"] == pytest.approx(1, abs=0.02)  # one GET
    assert rows["peer_fastapi_jwt"]["redis_per_request"] == 0
    assert rows["peer_express_jwt"]["redis_per_request"] == 0  # no session started for a token request


def test_quick_run_shows_revocation_crosses_processes(quick_results):
    cross = quick_results["json"]["scalability"]["cross_process"]
    assert (cross["session_on_b_before"], cross["session_on_b_after_revoke_on_a"]) == (200, 403)
    assert (cross["token_on_b_before"], cross["token_on_b_after_revoke_on_a"]) == (200, 401)


def test_quick_run_times_revocations_across_processes(quick_results):
    assert quick_results["json"]["scalability"]["propagation"]["revocations"] == 5


def test_quick_run_writes_markdown_and_svg(quick_results):
    assert "| JWT: stateless |" in (quick_results["dir"] / "latest.md").read_text()
    assert (quick_results["dir"] / "latest.svg").read_text().startswith("<svg")


def test_quick_run_times_refreshes_on_one_kept_alive_connection(quick_results):
    """bench.scale.refresh_chain raises unless the chain rotated; the figure is there on both stores."""
    for operations in quick_results["json"]["operations"].values():
        assert 0 < operations[KEEP_ALIVE_REFRESH] < operations["token login"]
    assert f"| {KEEP_ALIVE_REFRESH} |" in (quick_results["dir"] / "latest.md").read_text()


def test_quick_run_fills_the_stores_and_measures_again(quick_results):
    """The fill's raw SQL must keep up with the models: a NOT NULL column it misses fails here."""
    results = quick_results["json"]
    assert results["scale_rows"] == 1_000
    assert set(results["full"]) == {scheme.key for scheme in ALL_SCHEMES if not scheme.peer}


def test_quick_run_measures_the_verifier_beside_authdemos_hs256(quick_results):
    rows = quick_results["json"]["verifier"]["algorithms"]
    assert set(rows) == {"HS256 (authdemo)", "EdDSA"}
    assert all(row["token_bytes"] > 100 and row["app_cpu_us"] > 0 for row in rows.values())


def test_quick_run_times_revocation_reaching_the_verifier(quick_results):
    revocation = quick_results["json"]["verifier"]["revocation"]
    assert revocation["samples"] == 3 and 0 < revocation["p50_ms"] <= revocation["p99_ms"]
    assert "A separate verifier" in (quick_results["dir"] / "latest.md").read_text()


def test_quick_run_measures_the_theft_protections_in_process(quick_results):
    measured = quick_results["json"]["in_process"]
    dpop = measured["dpop"]
    assert dpop["dpop"] > dpop["bearer"] > 0 and dpop["signature"] > 0 and dpop["replay"] > 0
    assert dpop["rest"] == pytest.approx(dpop["added"] - dpop["signature"] - dpop["replay"])
    assert set(measured["dbsc"]["algorithms"]) == {"ES256", "RS256"}
    assert all(row["refresh_us"] > row["signature_us"] > 0 for row in measured["dbsc"]["algorithms"].values())
    assert measured["dbsc"]["refresh_interval_s"] == 480
    assert 0 < measured["hashed_lookup_us"] < 1000


def test_quick_run_judges_the_theft_targets_in_markdown(quick_results):
    targets = quick_results["json"]["in_process"]["targets"]
    assert [t["limit"] for t in targets] == [250, 5] and all(isinstance(t["met"], bool) for t in targets)
    text = (quick_results["dir"] / "latest.md").read_text()
    assert "## Theft protections, in-process" in text
    for target in targets:
        assert f"| {target['target']} | {target['value']:.2f} | {target['limit']:g} | " in text
