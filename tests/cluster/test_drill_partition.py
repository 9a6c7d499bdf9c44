"""The partition drill, short: the same code as `python -m deploy.cluster.drill_partition`, on a
cluster of two instances of its own (its Redis nodes and Sentinels behind the partition's proxy)."""

import pytest

from deploy.cluster.drill_partition import FAULT, run
from deploy.cluster.history import History
from deploy.cluster.launcher import missing_programs
from tests.factories import PASSWORD, UserFactory
from tests.support import need

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]
USERS = {"session": ("alice", PASSWORD), "revoked": ("carol", PASSWORD)}


def outcomes(history: History, credential: str, instance: str) -> list[str]:
    """The outcomes of the reads of `credential` at the instance named `instance`."""
    requests = [e for e in history.events if e["kind"] == "request" and e["credential"] == credential]
    return [e["outcome"] for e in requests if e.get("detail", "").startswith(instance)]


def test_drill_partition_split_brain_then_heal(server_env, tmp_path, transactional_db):
    if missing := missing_programs():
        need(f"the cluster needs Debian's {', '.join(missing)}")
    for username, _ in USERS.values():
        UserFactory(username=username)
    history = History()
    drill = run(server_env, tmp_path / "cluster", history, users=USERS, instances=2, seconds=1.5, verbose=True)
    # It did split: the Sentinels replaced the primary, which came back as a replica of the new
    # one after the heal, without the write the drill made on it while it was cut off.
    assert drill.figures["failover_seconds"] > 0
    assert drill.figures["rejoin_seconds"] >= 0
    # Both sides were read throughout; the session logged out on the majority side was refused
    # at both instances, the minority one included.
    assert "logged out" in outcomes(history, "session-ended", "main-1")
    assert "logged out" in outcomes(history, "session-ended", "main-2")
    # No minority write acknowledged, nothing revoked came back, no live session refused, and
    # no revoked session or access token accepted beyond the bound at either instance. (Before
    # accounts.sentinel's fence, the minority instance accepted the cut-off token until the heal.)
    assert drill.violations == []
    assert any(e["kind"] == "bound" and e["fault"] == FAULT for e in history.events)
