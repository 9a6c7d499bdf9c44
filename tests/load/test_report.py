"""The load run's own checks, from made-up counts: what makes `make loadtest` fail."""

from loadtest.report import database_violations, summary

BEFORE = {"blacklisted": 5, "outstanding": 9, "revoked_families": 0, "reuse_detected": 0, "duplicate_jti": 0}
COUNTS = {"obtains": 3, "rotations": 4, "logins": 2, "identity_checks": 30}


def grown(**changes: int) -> dict[str, int]:
    return {name: BEFORE[name] + changes.get(name, 0) for name in BEFORE}


def test_database_violations_none_when_blacklist_grew_by_the_rotations():
    assert database_violations(BEFORE, grown(blacklisted=4, outstanding=7), COUNTS) == []


def test_database_violations_name_a_blacklist_that_missed_a_rotation():
    found = database_violations(BEFORE, grown(blacklisted=3, outstanding=7), COUNTS)
    assert found == ["database: blacklisted grew by 3, expected 4"]


def test_database_violations_name_a_detected_reuse():
    found = database_violations(BEFORE, grown(blacklisted=4, outstanding=7, reuse_detected=1), COUNTS)
    assert found == ["database: reuse_detected grew by 1, expected 0"]


def test_summary_fails_on_any_violation():
    results = {"counts": COUNTS, "latency": [{"kind": "overall", "count": 9, "p50_ms": 3.0, "p99_ms": 9.0}]}
    text = summary(users=2, seconds=10, results=results, violations=["page GET / as load0001: HTTP 500 oops"])
    assert text.splitlines()[-1] == "loadtest: FAIL"


def test_summary_prints_p50_and_p99_per_request_type():
    rows = [
        {"kind": "page", "count": 7, "p50_ms": 3.0, "p99_ms": 12.0},
        {"kind": "overall", "count": 7, "p50_ms": 3.0, "p99_ms": 12.0},
    ]
    text = summary(users=2, seconds=10, results={"counts": COUNTS, "latency": rows}, violations=[])
    assert "page                   7       3.0      12.0" in text
    assert text.splitlines()[-1] == "loadtest: PASS"
