"""After the run: what the database says, and the summary with p50/p99 per request type."""

from __future__ import annotations

import re
from collections import Counter

import psycopg

# Counted straight from the tables, so the check does not trust the site's own code.
COUNTS = {
    "blacklisted": "SELECT count(*) FROM token_blacklist_blacklistedtoken",
    "outstanding": "SELECT count(*) FROM token_blacklist_outstandingtoken",
    "revoked_families": "SELECT count(*) FROM accounts_tokenfamily WHERE revoked_at IS NOT NULL",
    "reuse_detected": "SELECT count(*) FROM accounts_auditevent WHERE kind = 'reuse_detected'",
    "duplicate_jti": "SELECT count(*) FROM (SELECT jti FROM token_blacklist_outstandingtoken"
    " GROUP BY jti HAVING count(*) > 1) AS dup",
}


def table_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}


def database_violations(before: dict[str, int], after: dict[str, int], counts: dict[str, int]) -> list[str]:
    """The blacklist grew by exactly the rotations; every token minted is outstanding; no reuse."""
    grew = {name: after[name] - before[name] for name in COUNTS}
    expected = {
        "blacklisted": counts.get("rotations", 0),
        "outstanding": counts.get("obtains", 0) + counts.get("rotations", 0),
        "revoked_families": 0,
        "reuse_detected": 0,
        "duplicate_jti": 0,
    }
    return [
        f"database: {name} grew by {grew[name]}, expected {expected[name]}"
        for name in COUNTS
        if grew[name] != expected[name]
    ]


def kind_of(violation: str) -> str:
    """Group violations by what failed: request type and status, or the check that failed."""
    head = violation.split(" as ", 1)
    status = re.search(r"HTTP \d+|names|Timeout|ConnectionError|grew by|server log", violation)
    return f"{head[0] if len(head) == 2 else violation[:40]}: {status.group(0) if status else 'other'}"


def summary(*, users: int, seconds: float, results: dict, violations: list[str]) -> str:
    """The closing report: counts, Locust's p50/p99 per request type (ramp-up included), checks, PASS or FAIL."""
    rows, counts, ramp = results["latency"], results["counts"], results.get("ramp_seconds", 0.0)
    total = rows[-1]["count"] if rows else 0
    lines = [
        f"loadtest summary: {users} users, ramp-up (first logins) {ramp:.1f} s, then {seconds:.0f} s of mixed load;"
        f" {total} requests ({total / (ramp + seconds):.1f}/s)",
        f"{'request':<16}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}",
        *(f"{r['kind']:<16}{r['count']:>8}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}" for r in rows),
        f"logins {counts.get('logins', 0)}, token obtains {counts.get('obtains', 0)}, "
        f"rotations {counts.get('rotations', 0)}, identity checks {counts.get('identity_checks', 0)}",
        f"violations: {len(violations)}",
        *(f"  {count} x {kind}" for kind, count in Counter(kind_of(v) for v in violations).most_common()),
        *(f"  {message}" for message in violations[:25]),
        "loadtest: PASS" if not violations else "loadtest: FAIL",
    ]
    return "\n".join(lines)
