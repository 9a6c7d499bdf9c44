"""After the run: what the database says, and the summary with p50/p99 per request type."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import psycopg

from loadtest.users import Recorder

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


def database_violations(before: dict[str, int], after: dict[str, int], recorder: Recorder) -> list[str]:
    """The blacklist grew by exactly the rotations; every token minted is outstanding; no reuse."""
    counts = recorder.counts
    grew = {name: after[name] - before[name] for name in COUNTS}
    expected = {
        "blacklisted": counts["rotations"],
        "outstanding": counts["obtains"] + counts["rotations"],
        "revoked_families": 0,
        "reuse_detected": 0,
        "duplicate_jti": 0,
    }
    return [
        f"database: {name} grew by {grew[name]}, expected {expected[name]}"
        for name in COUNTS
        if grew[name] != expected[name]
    ]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


@dataclass(frozen=True)
class Row:
    kind: str
    count: int
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, kind: str, seconds: list[float]) -> Row:
        ordered = sorted(seconds)
        return cls(kind, len(ordered), percentile(ordered, 50) * 1000, percentile(ordered, 99) * 1000)


def latency_rows(recorder: Recorder) -> list[Row]:
    rows = [Row.of(kind, values) for kind, values in sorted(recorder.latencies.items()) if values]
    everything = [value for values in recorder.latencies.values() for value in values]
    return [*rows, Row.of("overall", everything)] if everything else rows


def kind_of(violation: str) -> str:
    """Group violations by what failed: request type and status, or the check that failed."""
    head = violation.split(" as ", 1)
    status = re.search(r"HTTP \d+|names|Timeout|ConnectionError|grew by|server log", violation)
    return f"{head[0] if len(head) == 2 else violation[:40]}: {status.group(0) if status else 'other'}"


def summary(*, users: int, ramp: float, seconds: float, recorder: Recorder, violations: list[str]) -> str:
    """The closing report: counts, latency table (ramp-up included), checks, then PASS or FAIL."""
    rows = latency_rows(recorder)
    total = rows[-1].count if rows else 0
    counts = recorder.counts
    lines = [
        f"loadtest summary: {users} users, ramp-up (first logins) {ramp:.1f} s, then {seconds:.0f} s of mixed load;"
        f" {total} requests ({total / (ramp + seconds):.1f}/s)",
        f"{'request':<16}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}",
        *(f"{row.kind:<16}{row.count:>8}{row.p50_ms:>10.1f}{row.p99_ms:>10.1f}" for row in rows),
        f"logins {counts['logins']}, token obtains {counts['obtains']}, rotations {counts['rotations']}, "
        f"identity checks {counts['identity_checks']}",
        f"violations: {len(violations)}",
        *(f"  {count} x {kind}" for kind, count in Counter(kind_of(v) for v in violations).most_common()),
        *(f"  {message}" for message in violations[:25]),
        "loadtest: PASS" if not violations else "loadtest: FAIL",
    ]
    return "\n".join(lines)
