"""Check a drill's whole history (deploy.cluster.history): per fault and per scheme, what went wrong.

The rules, each over every event of the run (a revocation made during one fault still holds in
the next), each reported under the fault and scheme of the request that broke it:

- **beyond the bound**: a request that started more than B seconds after the revocation of its
  credential was acknowledged, and was accepted. Must be 0. B is the scheme's stated bound
  (the history's `bound` events, else DEFAULT_BOUNDS): LOCAL_TIER_BOUND for the cluster's
  sessions and cut-off, the feed's bound at the verifier. A stateless JWT cannot be revoked
  (B is infinite): its uses after a revocation are reported, as the comparison, never a violation.
  A request that overlaps the acknowledgment (it started before ack + B) is not a violation: it
  may have been served before the write landed.
- **live refused**: a credential refused as logged out with no revocation of it started before
  the answer. Must be 0. A 503 with Retry-After is counted apart (unavailable), as are other
  errors; whether those are acceptable depends on the fault (the drill judges them). An error
  of a request in flight while a process serving it was killed (the history's `interruption`
  events) is counted apart again (interrupted): nothing can save it.
- **acknowledged writes lost**: a login acknowledged whose credential was later refused as
  logged out without a revocation (the session was lost), and a revocation acknowledged whose
  credential was refused, then accepted again beyond the bound (the revocation was lost). Must be 0.
  A lost login is also a live refusal: one counts requests, the other writes.
- **longest without a login**: the longest time from a failed login to the next one that
  succeeded (or to the last attempt, if none did: `login_recovered` is then false).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deploy.cluster.history import (
    ERROR,
    JWT_CUTOFF,
    JWT_STATELESS,
    LOGGED_OUT,
    OK,
    SESSION_DB,
    SESSION_REDIS,
    UNAVAILABLE,
    VERIFIER,
    History,
    overlaps,
)

LOCAL_TIER_BOUND = 1.0  # authdemo's default (settings.LOCAL_TIER_BOUND); a drill states its own
DEFAULT_BOUNDS = {SESSION_REDIS: LOCAL_TIER_BOUND, SESSION_DB: LOCAL_TIER_BOUND, JWT_CUTOFF: LOCAL_TIER_BOUND,
                  JWT_STATELESS: math.inf, VERIFIER: 3.0}  # fmt: skip


@dataclass
class Cell:
    """One fault and one scheme: counts, and the examples behind each nonzero violation count."""

    bound: float = 0.0
    requests: int = 0
    ok: int = 0
    logged_out: int = 0
    unavailable: int = 0
    errors: int = 0
    interrupted: int = 0  # errors of requests in flight while a process serving them was killed
    revoked_requests: int = 0  # requests made with a credential after its revocation was acknowledged
    beyond_bound: int = 0  # of those, accepted though started more than `bound` after the acknowledgment
    accepted_after_revocation: float | None = None  # the latest such acceptance, in seconds after the ack
    live_refused: int = 0
    lost_logins: int = 0
    lost_revocations: int = 0
    logins: int = 0
    failed_logins: int = 0
    longest_without_login: float | None = None
    login_recovered: bool = True
    examples: list[str] = field(default_factory=list)

    def violations(self) -> dict[str, int]:
        counts = {"live_refused": self.live_refused, "lost_logins": self.lost_logins,
                  "lost_revocations": self.lost_revocations}  # fmt: skip
        if math.isfinite(self.bound):
            counts["beyond_bound"] = self.beyond_bound
        return {name: count for name, count in counts.items() if count}

    def describe(self) -> str:
        """One line of text: the counts, the bound, and the figures that exist."""
        bound = f"B={self.bound:g} s" if math.isfinite(self.bound) else "B=none (cannot revoke)"
        lag = self.accepted_after_revocation
        said = [
            f"{self.requests} requests, {self.ok} ok, {self.logged_out} logged out, {self.unavailable} "
            f"503+Retry-After, {self.errors} errors"
            + (f" (and {self.interrupted} in flight on a killed process)" if self.interrupted else ""),
            f"revoked: {self.revoked_requests} requests, {self.beyond_bound} beyond {bound}"
            + ("" if lag is None else f", last accepted {lag:.2f} s after"),
            f"live refused {self.live_refused}; lost writes {self.lost_logins} logins, "
            f"{self.lost_revocations} revocations",
        ]
        if self.longest_without_login is not None:
            said.append(f"{self.logins} logins, none for {self.longest_without_login:.2f} s"
                        + ("" if self.login_recovered else " (not recovered)"))  # fmt: skip
        return "; ".join(said)

    def row(self) -> dict:
        """The JSON row: infinite bounds as null."""
        row = asdict(self)
        row["bound"] = self.bound if math.isfinite(self.bound) else None
        row["examples"] = self.examples[:5]
        row["violations"] = self.violations()
        return row


class Report:
    """The checker's verdict on one history: cells by (fault, scheme)."""

    def __init__(self, cells: dict[tuple[str, str], Cell]):
        self.cells = cells

    def violations(self, fault: str | None = None) -> list[str]:
        """One line per nonzero violation count, with its first example."""
        lines = []
        for (cell_fault, scheme), cell in sorted(self.cells.items()):
            if fault is not None and cell_fault != fault:
                continue
            for name, count in cell.violations().items():
                example = next((e for e in cell.examples if e.startswith(name)), "")
                lines.append(f"{cell_fault}: {scheme}: {count} x {name.replace('_', ' ')}"
                             + (f" ({example})" if example else ""))  # fmt: skip
        return lines

    def table(self) -> dict[str, dict[str, dict]]:
        """{fault: {scheme: row}} for bench/results/cluster.json and /compare/."""
        table: dict[str, dict[str, dict]] = defaultdict(dict)
        for (fault, scheme), cell in sorted(self.cells.items()):
            table[fault][scheme] = cell.row()
        return dict(table)

    def lines(self, fault: str | None = None) -> list[str]:
        """The table as text, one line per fault and scheme."""
        cells = sorted(self.cells.items())
        return [f"{at} | {scheme}: {cell.describe()}" for (at, scheme), cell in cells if fault in (None, at)]


def bounds_of(events: list[dict]) -> dict[tuple[str, str], float]:
    """(fault, scheme) -> B from the history's `bound` events (None in JSON is infinite)."""
    return {(e["fault"], e["scheme"]): math.inf if e["seconds"] is None else e["seconds"]
            for e in events if e["kind"] == "bound"}  # fmt: skip


def bound_for(bounds: dict, fault: str, scheme: str) -> float:
    if (fault, scheme) in bounds:
        return bounds[(fault, scheme)]
    stated = [seconds for (_, s), seconds in bounds.items() if s == scheme]
    return max(stated) if stated else DEFAULT_BOUNDS.get(scheme, 0.0)


def check(history: History | list[dict]) -> Report:
    """Read every event and fill one Cell per (fault, scheme)."""
    events = history.events if isinstance(history, History) else list(history)
    bounds = bounds_of(events)
    cells: dict[tuple[str, str], Cell] = {}

    def cell(fault: str, scheme: str) -> Cell:
        if (fault, scheme) not in cells:
            cells[(fault, scheme)] = Cell(bound=bound_for(bounds, fault, scheme))
        return cells[(fault, scheme)]

    attempts: dict[str, list[float]] = defaultdict(list)  # credential -> starts of every revocation
    acked: dict[str, float] = {}  # credential -> its first acknowledged revocation
    for e in (e for e in events if e["kind"] == "revocation"):
        for credential in e["credentials"]:
            attempts[credential].append(e["start"])
            if e["acknowledged"]:
                acked[credential] = min(acked.get(credential, math.inf), e["end"])
    logged_in = {e["credential"]: e["end"] for e in events if e["kind"] == "login" and e["ok"]}
    requests = sorted((e for e in events if e["kind"] == "request"), key=lambda e: e["start"])
    cuts = defaultdict(list)  # fault -> (start, end) of each interruption
    for e in (e for e in events if e["kind"] == "interruption"):
        cuts[e["fault"]].append((e["start"], e["end"]))
    refused_after_ack: dict[str, float] = {}  # credential -> end of its first refusal after the ack
    lost_logins: set[str] = set()
    lost_revocations: set[str] = set()
    for r in requests:
        c, credential = cell(r["fault"], r["scheme"]), r["credential"]
        c.requests += 1
        c.ok += r["outcome"] == OK
        c.logged_out += r["outcome"] == LOGGED_OUT
        c.unavailable += r["outcome"] == UNAVAILABLE
        if r["outcome"] == ERROR:
            in_flight = overlaps(r["start"], r["end"], cuts[r["fault"]])
            c.interrupted += in_flight
            c.errors += not in_flight
        ack = acked.get(credential)
        if ack is not None and r["start"] > ack:
            judge_revoked(c, r, ack, refused_after_ack, lost_revocations)
        if r["outcome"] == LOGGED_OUT and not any(start < r["end"] for start in attempts.get(credential, ())):
            c.live_refused += 1
            c.examples.append(f"live_refused: {credential} answered {r['status']} at {r['end']:.2f}")
            if credential in logged_in and logged_in[credential] <= r["start"] and credential not in lost_logins:
                lost_logins.add(credential)
                c.lost_logins += 1
                c.examples.append(f"lost_logins: {credential}, logged in at {logged_in[credential]:.2f}")
    for (fault, scheme), logins in group_logins(events).items():
        judge_logins(cell(fault, scheme), logins)
    return Report(cells)


def judge_revoked(c: Cell, r: dict, ack: float, refused_after_ack: dict, lost_revocations: set) -> None:
    """A request made with a credential after its revocation was acknowledged."""
    credential = r["credential"]
    c.revoked_requests += 1
    if r["outcome"] == LOGGED_OUT:
        refused_after_ack.setdefault(credential, r["end"])
    if r["outcome"] != OK:
        return
    after = r["start"] - ack
    c.accepted_after_revocation = max(c.accepted_after_revocation or 0.0, round(after, 3))
    if after <= c.bound:
        return
    c.beyond_bound += 1
    if math.isfinite(c.bound):
        c.examples.append(f"beyond_bound: {credential} accepted {after:.2f} s after its revocation")
    refused = refused_after_ack.get(credential)
    if refused is not None and refused <= r["start"] and credential not in lost_revocations:
        lost_revocations.add(credential)
        c.lost_revocations += 1
        c.examples.append(f"lost_revocations: {credential} refused, then accepted {after:.2f} s after")


def group_logins(events: list[dict]) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for e in events:
        if e["kind"] == "login":
            grouped[(e["fault"], e["scheme"])].append(e)
    return grouped


def judge_logins(c: Cell, logins: list[dict]) -> None:
    """Count the logins; the longest stretch from a failed login to the next successful one."""
    failing_since = None
    longest = None
    for e in sorted(logins, key=lambda e: e["start"]):
        c.logins += 1
        if not e["ok"]:
            c.failed_logins += 1
            failing_since = e["start"] if failing_since is None else failing_since
        elif failing_since is not None:
            longest = max(longest or 0.0, e["end"] - failing_since)
            failing_since = None
    if failing_since is not None:
        last = max(e["end"] for e in logins)
        longest, c.login_recovered = max(longest or 0.0, last - failing_since), False
    c.longest_without_login = None if longest is None else round(longest, 3)
    if longest is None and c.logins:
        c.longest_without_login = 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster.checker", description=__doc__.splitlines()[0])
    parser.add_argument("history", type=Path, help="a drill's history (JSON lines)")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    report = check(History.load(args.history))
    print(json.dumps(report.table(), indent=2) if args.json else "\n".join(report.lines()))
    for line in report.violations():
        print(f"VIOLATION: {line}", file=sys.stderr)
    return 1 if report.violations() else 0


if __name__ == "__main__":
    sys.exit(main())
