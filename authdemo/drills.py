"""What the last `make drill` showed: under which faults "easy to revoke" and "scales" held, per scheme.

`make drill` (deploy.cluster.drill) writes its checker's table into settings.CLUSTER_RESULTS:
`{"table": {fault: {scheme: row}}}`, one row per fault and scheme with the counts of
deploy.cluster.checker. /compare/'s Revocation and Scalability rows state it here: for each
scheme, the faults under which it held and those under which it did not, and why. The file is
read as untrusted input: anything not shaped as the drill writes it reads as "not measured yet",
never as an error page.
"""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from authdemo.measured import JWT_CUTOFF, JWT_STATELESS, SESSION_DB, SESSION_REDIS, VERIFIER

SIDES = {
    "session": {SESSION_REDIS: "Redis sessions", SESSION_DB: "database sessions"},
    "jwt": {JWT_CUTOFF: "JWT with cut-off", JWT_STATELESS: "stateless JWT", VERIFIER: "the verifier"},
}
COUNTS = ("requests", "unavailable", "errors", "revoked_requests", "beyond_bound", "lost_revocations",
          "live_refused", "lost_logins")  # fmt: skip
NOT_MEASURED = SafeString("Under faults (the cluster's failure drills): not measured yet.")


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def drill_cells(cluster: object) -> dict[str, dict[str, dict]] | None:
    """{fault: {scheme: row}} of the last run, every count a non-negative integer; None when the
    file has no table or one not shaped as the drill writes it."""
    table = cluster.get("table") if isinstance(cluster, dict) else None
    if not isinstance(table, dict) or not table:
        return None
    cells: dict[str, dict[str, dict]] = {}
    for fault, by_scheme in table.items():
        if not isinstance(by_scheme, dict):
            return None
        for scheme, row in by_scheme.items():
            if not isinstance(row, dict):
                return None
            counts = {name: row.get(name, 0) for name in COUNTS}
            bound, after = row.get("bound"), row.get("accepted_after_revocation")
            if not all(isinstance(v, int) and number(v) for v in counts.values()):
                return None
            if not (bound is None or number(bound)) or not (after is None or number(after)):
                return None
            cells.setdefault(fault, {})[scheme] = {**counts, "bound": bound, "accepted_after_revocation": after}
    return cells


def revocation_held(row: dict) -> tuple[bool, str] | None:
    """(held, why not) for one fault and scheme; None where no revoked credential was read."""
    if not row["revoked_requests"]:
        return None
    if row["bound"] is None:  # stateless JWT: nothing to revoke
        after = row["accepted_after_revocation"]
        return (True, "") if after is None else (False, f"still accepted {after:g} s after its revocation")
    if row["beyond_bound"] or row["lost_revocations"]:
        why = f"{row['beyond_bound']} requests accepted more than {row['bound']:g} s after the revocation"
        return False, why + (f", {row['lost_revocations']} revocations lost" if row["lost_revocations"] else "")
    return True, ""


def service_held(row: dict) -> tuple[bool, str] | None:
    """(held, why not): every user kept (none refused, no login lost, no error but a 503 with
    Retry-After); None where the scheme was not exercised."""
    if not row["requests"]:
        return None
    wrong = [f"{row[name]} {what}" for name, what in (("live_refused", "live users refused"),
             ("lost_logins", "acknowledged logins lost"), ("errors", "errors")) if row[name]]  # fmt: skip
    return (False, ", ".join(wrong)) if wrong else (True, "")


def verdicts(cells: dict, side: str, judge) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """[(scheme label, faults where it held, [(fault, why) where it did not])] for one side."""
    said = []
    for scheme, label in SIDES[side].items():
        held, failed = [], []
        for fault, by_scheme in cells.items():
            verdict = judge(by_scheme[scheme]) if scheme in by_scheme else None
            if verdict is None:
                continue
            if verdict[0]:
                held.append(fault)
            else:
                failed.append((fault, verdict[1]))
        if held or failed:
            said.append((label, held, failed))
    return said


def scheme_verdict(label: str, held: list[str], failed: list[tuple[str, str]]) -> SafeString:
    """One scheme's verdict, as "Redis sessions: held under A, B; did not under C (why)"."""
    parts = [format_html("held under {}", ", ".join(held))] if held else []
    parts += [format_html("did not under {} ({})", fault, why) for fault, why in failed]
    return format_html("{}: {}.", label, SafeString("; ".join(parts)))


def drill_sentence(cluster: object, *, side: str, claim: str, judge) -> SafeString:
    """One paragraph: for each scheme of `side`, the faults under which `claim` held and did not."""
    cells = drill_cells(cluster)
    found = verdicts(cells, side, judge) if cells else []
    if not found:
        return NOT_MEASURED
    measured_at = cluster.get("measured_at")
    return format_html(
        "Under faults, as <code>make drill</code> measured them ({}), &ldquo;{}&rdquo;: {}",
        measured_at if isinstance(measured_at, str) else "its last run",
        claim,
        SafeString(" ".join(scheme_verdict(*each) for each in found)),
    )


def drill_rows(cluster: object) -> dict[str, SafeString]:
    """The four paragraphs of the Revocation and Scalability rows, by place."""
    return {
        f"drill_{aspect}_{side}": drill_sentence(cluster, side=side, claim=claim, judge=judge)
        for aspect, claim, judge in (("revocation", "easy to revoke", revocation_held),
                                     ("scales", "scales", service_held))
        for side in SIDES
    }  # fmt: skip
