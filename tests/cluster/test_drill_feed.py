"""The verifier's feed drill, short: the same code as `make drill`'s drill_feed, on the suite's database."""

import pytest

from deploy.cluster.checker import check
from deploy.cluster.drill_feed import run
from deploy.cluster.history import VERIFIER, History
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server]
USERS = {"token": ("bob", PASSWORD), "revoked": ("carol", PASSWORD)}


def test_drill_feed_delayed_cut_replayed_restarted_no_revoked_token_beyond_the_bound(server_env, tmp_path,
                                                                                        transactional_db):  # fmt: skip
    for username, _ in USERS.values():
        UserFactory(username=username)
    history = History()
    drills = run(server_env, tmp_path, history, users=USERS, seconds=1)
    assert {drill.name: drill.violations for drill in drills} == {drill.name: [] for drill in drills}
    table = check(history).table()
    # Every phase read a revoked token after its revocation was acknowledged, and refused it in time.
    assert all(table[drill.name][VERIFIER]["revoked_requests"] > 0 for drill in drills)
    # Cut or replayed past the bound, the verifier said so: a 503 with Retry-After for every token.
    for fault in ("verifier feed cut", "verifier feed replayed", "verifier restarted while its feed is cut"):
        assert table[fault][VERIFIER]["unavailable"] > 0
    # Restarted with no feed, it accepted none of the tokens revoked before.
    assert table["verifier restarted while its feed is cut"][VERIFIER]["accepted_after_revocation"] is None
