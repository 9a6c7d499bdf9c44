"""The drills' history and its checker (deploy.cluster.history, deploy.cluster.checker): pure, no servers.

Each rule is fed a history that breaks it and one that comes as close as the rule allows.
"""

import json
import math
import threading

import pytest

from deploy.cluster.checker import check, main
from deploy.cluster.history import (
    ERROR,
    JWT_CUTOFF,
    JWT_STATELESS,
    LOGGED_OUT,
    OK,
    SESSION_REDIS,
    UNAVAILABLE,
    VERIFIER,
    History,
    classify,
    credential_id,
)

FAULT = "Redis primary frozen"


def record(h: History, scheme: str, credential: str, start: float, status: int, *, retry_after=False):
    h.request(scheme, credential, start=start, end=start + 0.05, status=status, retry_after=retry_after)


def revoked_at(h: History, credential: str, ack: float, *, acknowledged=True):
    h.revocation([credential], start=ack - 0.2, end=ack, acknowledged=acknowledged)


def cell(h: History, scheme: str = JWT_CUTOFF):
    return check(h).cells[(FAULT, scheme)]


@pytest.fixture
def h():
    history = History().under(FAULT)
    history.bound(JWT_CUTOFF, 1.0)
    return history


def test_classify_names_each_kind_of_answer():
    assert [classify(200), classify(302), classify(401), classify(403)] == [OK, LOGGED_OUT, LOGGED_OUT, LOGGED_OUT]
    assert classify(503, retry_after=True) == UNAVAILABLE
    assert [classify(503), classify(500), classify(None)] == [ERROR, ERROR, ERROR]


def test_credential_id_names_no_secret():
    secret = "eyJhbGciOi.secret-part"
    assert secret not in credential_id(secret) and len(credential_id(secret, prefix="t-")) == 14
    assert credential_id(secret) == credential_id(secret) != credential_id(secret + "x")


def test_a_credential_accepted_beyond_the_bound_is_a_violation(h):
    revoked_at(h, "bob/token", 10.0)
    record(h, JWT_CUTOFF, "bob/token", 11.5, 200)
    assert cell(h).beyond_bound == 1
    assert check(h).violations() == [
        f"{FAULT}: {JWT_CUTOFF}: 1 x beyond bound (beyond_bound: bob/token accepted 1.50 s after its revocation)"
    ]


def test_a_credential_accepted_within_the_bound_or_overlapping_the_ack_is_not(h):
    revoked_at(h, "bob/token", 10.0)
    record(h, JWT_CUTOFF, "bob/token", 9.9, 200)  # overlaps the acknowledgment
    record(h, JWT_CUTOFF, "bob/token", 10.9, 200)  # within B = 1 s
    record(h, JWT_CUTOFF, "bob/token", 11.5, 401)
    c = cell(h)
    assert (c.beyond_bound, c.revoked_requests, c.accepted_after_revocation) == (0, 2, 0.9)
    assert check(h).violations() == []


def test_a_failed_revocation_binds_nothing(h):
    revoked_at(h, "bob/token", 10.0, acknowledged=False)
    record(h, JWT_CUTOFF, "bob/token", 30.0, 200)
    assert check(h).violations() == []


def test_stateless_jwt_accepted_after_revocation_is_reported_not_a_violation(h):
    revoked_at(h, "bob/stateless", 10.0)
    record(h, JWT_STATELESS, "bob/stateless", 40.0, 200)
    c = cell(h, JWT_STATELESS)
    assert math.isinf(c.bound) and c.accepted_after_revocation == 30.0
    assert c.row()["bound"] is None
    assert check(h).violations() == []


def test_the_stated_bound_of_the_scheme_is_used(h):
    h.bound(VERIFIER, 4.0)
    revoked_at(h, "bob/at-verifier", 10.0)
    record(h, VERIFIER, "bob/at-verifier", 13.0, 200)
    assert check(h).violations() == []
    record(h, VERIFIER, "bob/at-verifier", 14.5, 200)
    assert cell(h, VERIFIER).beyond_bound == 1


def test_a_live_credential_refused_as_logged_out_is_a_violation(h):
    record(h, SESSION_REDIS, "alice/session", 5.0, 302)
    assert cell(h, SESSION_REDIS).live_refused == 1
    assert "1 x live refused" in check(h).violations()[0]


def test_503_with_retry_after_and_errors_are_counted_apart(h):
    record(h, SESSION_REDIS, "alice/session", 5.0, 503, retry_after=True)
    record(h, SESSION_REDIS, "alice/session", 6.0, 500)
    record(h, SESSION_REDIS, "alice/session", 7.0, 200)
    c = cell(h, SESSION_REDIS)
    assert (c.requests, c.ok, c.unavailable, c.errors, c.live_refused) == (3, 1, 1, 1, 0)
    assert check(h).violations() == []


def test_an_error_in_flight_while_a_serving_process_was_killed_is_counted_apart(h):
    h.interruption(start=6.0, end=6.2, what="nginx worker killed")
    record(h, SESSION_REDIS, "alice/session", 5.96, None)  # sent before the kill, unanswered: in flight
    record(h, SESSION_REDIS, "alice/session", 6.25, None)  # sent after the worker was gone: an error
    record(h, SESSION_REDIS, "alice/session", 6.1, 200)
    c = cell(h, SESSION_REDIS)
    assert (c.requests, c.ok, c.errors, c.interrupted) == (3, 1, 1, 1)
    assert "(and 1 in flight on a killed process)" in c.describe()
    other = History().under("another fault")
    record(other, SESSION_REDIS, "alice/session", 6.1, None)  # an interruption holds for its own fault only
    assert check(h.events + other.events).cells[("another fault", SESSION_REDIS)].errors == 1


def test_logged_out_during_a_revocation_in_flight_is_not_live_refused(h):
    h.revocation(["alice/session"], start=5.0, end=6.0, acknowledged=False)  # it may have landed
    record(h, SESSION_REDIS, "alice/session", 5.5, 302)
    assert check(h).violations() == []


def test_a_login_acknowledged_then_unknown_is_a_lost_write(h):
    h.add("login", scheme=SESSION_REDIS, credential="alice/session-2", start=1.0, end=1.5, ok=True)
    record(h, SESSION_REDIS, "alice/session-2", 2.0, 200)
    record(h, SESSION_REDIS, "alice/session-2", 8.0, 302)  # the store came back empty
    record(h, SESSION_REDIS, "alice/session-2", 9.0, 302)
    c = cell(h, SESSION_REDIS)
    assert (c.lost_logins, c.live_refused) == (1, 2)


def test_a_revocation_refused_then_accepted_again_is_a_lost_write(h):
    revoked_at(h, "bob/token", 10.0)
    record(h, JWT_CUTOFF, "bob/token", 10.5, 401)
    record(h, JWT_CUTOFF, "bob/token", 12.0, 200)  # the old primary woke up with the old state
    c = cell(h)
    assert (c.lost_revocations, c.beyond_bound) == (1, 1)


def test_accepted_beyond_the_bound_without_an_earlier_refusal_is_not_a_lost_revocation(h):
    revoked_at(h, "bob/token", 10.0)
    record(h, JWT_CUTOFF, "bob/token", 12.0, 200)
    assert (cell(h).lost_revocations, cell(h).beyond_bound) == (0, 1)


def test_a_revocation_in_one_fault_holds_in_the_next(h):
    revoked_at(h, "bob/token", 10.0)
    later = h.under("partition")
    record(later, JWT_CUTOFF, "bob/token", 50.0, 200)
    report = check(h)
    assert report.cells[("partition", JWT_CUTOFF)].beyond_bound == 1
    assert report.violations(FAULT) == [] and len(report.violations("partition")) == 1


def login(h, start, end, ok, scheme=SESSION_REDIS):
    h.add("login", scheme=scheme, credential=f"alice/{start}", start=start, end=end, ok=ok)


def test_longest_without_a_login_runs_from_the_first_failure_to_the_next_success(h):
    for start, ok in ((0, True), (1, False), (2, False), (4, True), (5, False), (6, True)):
        login(h, start, start + 0.5, ok)
    c = cell(h, SESSION_REDIS)
    assert (c.logins, c.failed_logins, c.longest_without_login, c.login_recovered) == (6, 3, 3.5, True)


def test_longest_without_a_login_says_when_logins_never_came_back(h):
    login(h, 0, 0.5, True)
    login(h, 1, 1.5, False)
    login(h, 3, 3.5, False)
    c = cell(h, SESSION_REDIS)
    assert (c.longest_without_login, c.login_recovered) == (2.5, False)


def test_history_login_and_revoke_time_and_record_the_action():
    h = History().under(FAULT)
    assert h.login(SESSION_REDIS, "a/1", lambda: "client") == "client"

    def refused():
        raise RuntimeError("logging in alice: HTTP 503")

    assert h.login(SESSION_REDIS, "a/2", refused) is None
    assert h.revoke(["a/1"], lambda: True, what="logout") is True
    with pytest.raises(ValueError):
        h.revoke(["a/2"], lambda: int("x"))
    kinds = [(e["kind"], e.get("ok", e.get("acknowledged"))) for e in h.events]
    assert kinds == [("login", True), ("login", False), ("revocation", True), ("revocation", False)]
    assert all(e["fault"] == FAULT and e["end"] >= e["start"] for e in h.events)


def test_history_records_from_many_threads(h):
    def hammer(n):
        for i in range(200):
            record(h, SESSION_REDIS, f"s/{n}", float(i), 200)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cell(h, SESSION_REDIS).requests == 800


def test_history_saves_and_loads_as_json_lines(h, tmp_path, capsys):
    revoked_at(h, "bob/token", 10.0)
    record(h, JWT_CUTOFF, "bob/token", 12.0, 200)
    path = tmp_path / "history.jsonl"
    h.save(path)
    assert all(json.loads(line)["kind"] for line in path.read_text().splitlines())
    assert History.load(path).events == h.events
    assert main([str(path)]) == 1
    assert "beyond bound" in capsys.readouterr().err


def test_history_load_refuses_what_is_not_a_history(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="not a drill history"):
        History.load(path)
