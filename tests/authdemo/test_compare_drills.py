"""/compare/'s Revocation and Scalability rows: where "easy to revoke" and "scales" held in the last `make drill`."""

import json
import re

import pytest

from tests.bench.sample_results import sample_cluster_results

HELD = {"requests": 100, "unavailable": 0, "errors": 0, "revoked_requests": 20, "beyond_bound": 0,
        "lost_revocations": 0, "live_refused": 0, "lost_logins": 0, "bound": 1.0,
        "accepted_after_revocation": 0.4}  # fmt: skip


def table() -> dict:
    """A checker table (deploy.cluster.checker) with a verdict of each kind."""
    return {
        "one app instance killed": {"session_redis": HELD, "jwt_cutoff": HELD},
        "Redis primary frozen": {
            "session_redis": {**HELD, "beyond_bound": 3, "accepted_after_revocation": 4.2},
            "jwt_cutoff": {**HELD, "unavailable": 12},
            "jwt_stateless": {**HELD, "bound": None, "accepted_after_revocation": 12.5},
        },
        "Redis nodes restarted empty": {"session_redis": {**HELD, "live_refused": 40, "lost_logins": 7}},
        "verifier feed cut": {"verifier": {**HELD, "bound": 3.5, "unavailable": 80}},
    }


@pytest.fixture
def cluster_file(tmp_path, settings):
    """Point the page at a `make drill` file of our own (and at no benchmark)."""
    settings.BENCH_RESULTS = tmp_path / "no-bench.json"
    settings.CLUSTER_RESULTS = tmp_path / "cluster.json"
    return settings.CLUSTER_RESULTS


def paragraph(client, where: str) -> str:
    page = client.get("/compare/")
    assert page.status_code == 200
    found = re.search(rf'<p id="{where}">(.*?)</p>', page.content.decode(), re.S)
    assert found, f"no paragraph {where} on /compare/"
    return found.group(1)


PLACES = ("drill-revocation-session", "drill-revocation-jwt", "drill-scales-session", "drill-scales-jwt")


def test_compare_drill_rows_without_a_drill_say_not_measured_yet(client, db, cluster_file):
    for where in PLACES:
        assert "not measured yet" in paragraph(client, where)


def test_compare_revocation_row_names_the_faults_where_revoking_held_and_where_not(client, db, cluster_file):
    cluster_file.write_text(json.dumps({**sample_cluster_results(), "table": table()}))
    session = paragraph(client, "drill-revocation-session")
    assert "Redis sessions: held under one app instance killed, Redis nodes restarted empty; did not under Redis " \
           "primary frozen (3 requests accepted more than 1 s after the revocation)." in session  # fmt: skip
    assert "2026-01-01" in session and "easy to revoke" in session
    assert "database sessions" not in session  # not exercised: not claimed either way
    jwt = paragraph(client, "drill-revocation-jwt")
    assert "JWT with cut-off: held under one app instance killed, Redis primary frozen." in jwt
    assert "stateless JWT: did not under Redis primary frozen (still accepted 12.5 s after its revocation)." in jwt
    assert "the verifier: held under verifier feed cut." in jwt


def test_compare_scalability_row_names_the_faults_where_users_were_kept_and_where_not(client, db, cluster_file):
    cluster_file.write_text(json.dumps({**sample_cluster_results(), "table": table()}))
    session = paragraph(client, "drill-scales-session")
    assert "did not under Redis nodes restarted empty (40 live users refused, 7 acknowledged logins lost)" in session
    assert "Redis sessions: held under one app instance killed, Redis primary frozen; did not" in session
    assert "the verifier: held under verifier feed cut." in paragraph(client, "drill-scales-jwt")  # 503s are honest


def test_compare_drill_rows_escape_the_file(client, db, cluster_file):
    cluster_file.write_text(json.dumps({"table": {"<script>x</script>": {"session_redis": HELD}}}))
    assert "&lt;script&gt;" in paragraph(client, "drill-revocation-session")


@pytest.mark.parametrize(
    "body",
    [
        "not json", "[1, 2]", '"a string"', '{"table": 5}', '{"table": {"f": []}}',
        '{"table": {"f": {"session_redis": {"requests": "many"}}}}',
        '{"table": {"f": {"session_redis": {"requests": true}}}}',
        '{"table": {"f": {"session_redis": {"revoked_requests": 1, "bound": "x"}}}}',
        '{"drills": 5}', '{"drills": [{"name": "Redis primary killed", "requests": 3}]}', '{"throughput": 5}',
        '{"drills": [5]}',
    ],
)  # fmt: skip
def test_compare_with_a_malformed_drill_file_still_answers(client, db, cluster_file, body):
    cluster_file.write_text(body)
    for where in PLACES:
        assert "not measured yet" in paragraph(client, where)
