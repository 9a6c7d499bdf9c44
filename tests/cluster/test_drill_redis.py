"""The Redis drills, short: the same code as `make drill`, on the suite's cluster (two app
instances behind nginx, a Redis primary, two replicas and three Sentinels)."""

import pytest

from authdemo.measured import SESSION_REDIS
from deploy.cluster.drill_kit import probes_for
from deploy.cluster.drill_redis import drill_primary_frozen, drill_restart_all
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]
USERS = {"session": ("alice", PASSWORD), "token": ("bob", PASSWORD), "revoked": ("carol", PASSWORD)}


@pytest.fixture
def probes(cluster):
    for username, _ in USERS.values():
        UserFactory(username=username)
    return probes_for(cluster, USERS)


def test_drill_primary_frozen_then_resumed_nothing_reads_it(cluster, probes):
    drill = drill_primary_frozen(cluster, probes, USERS, seconds=3, verbose=True)
    assert drill.violations == []
    logins = drill.figures["checker"][SESSION_REDIS]
    assert logins["logins"] > logins["failed_logins"]  # logins went on while the old primary was frozen


def test_drill_every_node_restarted_empty_logs_out_but_revives_nothing(cluster, probes):
    drill = drill_restart_all(cluster, probes, USERS, persistence="none", seconds=1, verbose=True)
    assert drill.violations == []
    assert drill.figures["redis_sessions_kept"] == "0 of 3"


def test_drill_every_node_restarted_from_its_append_only_file_keeps_sessions(cluster, probes):
    drill = drill_restart_all(cluster, probes, USERS, persistence="aof", seconds=1, verbose=True)
    assert drill.violations == []
    assert drill.figures["redis_sessions_kept"] == "3 of 3"
