"""Redis faults beyond a clean kill, as drills: `make drill` runs `run()` on a cluster of its own
(`python -m deploy.cluster.drill --only drill_redis` alone); the suite runs each drill short on
its cluster (tests/cluster/test_drills.py).

- `drill_primary_frozen`: the primary stopped with SIGSTOP past down-after-milliseconds (a
  stalled VM, a long fork). The Sentinels promote a replica and the other replica follows it, so
  WAIT 1 still has a replica: logins, logouts and revocations work again while the old primary
  stays frozen. Revocations are made on the new primary during the freeze; then the old one is
  resumed, waking up believing it is the primary and holding the revoked credentials. Nothing
  may read it (every app instance follows the new primary, copies included: accounts.sentinel):
  every revoked credential is tried on every app instance right after the resume.
- `drill_restart_all`: every Redis node stopped and started again, empty (`persistence="none"`:
  no persistence, or its files lost) or from its append-only file (`"aof"`, the deployment's).
  No revoked credential may come back (without Redis, the access-token cut-off is read from the
  database); the figures say what users lost (Redis sessions logged out) and for how long no
  login succeeded. An empty restart loses every Redis session by design: those sessions are
  counted in the figures, not in the history, whose checker holds every acknowledged login to
  be kept; the append-only file's restart is held to it.

Every request, login and revocation goes into the drill's history (deploy.cluster.history).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from authdemo import measured
from deploy.cluster.drill import DEMO_USERS, logins_for, prepare_revocations, state_bounds
from deploy.cluster.drill_kit import (
    Drill,
    Load,
    Probe,
    check_still_logged_in,
    check_still_revoked,
    logins_work,
    probes_for,
    revoke_all,
    tried_everywhere,
)
from deploy.cluster.history import History
from deploy.cluster.launcher import MAIN, Cluster
from deploy.cluster.supervisor import Program
from harness.logins import log_in
from harness.stack import wait_until

FROZEN = "Redis primary frozen (SIGSTOP), then resumed"
RESTARTED = {"none": "every Redis node restarted empty", "aof": "every Redis node restarted from its append-only file"}
KEPT_SESSIONS = 3  # Redis sessions logged in before a restart, to count what it loses


@contextlib.contextmanager
def frozen(node: Program) -> Iterator[int]:
    """SIGSTOP the node for the block (its pid), SIGCONT after it whatever happens."""
    pid = node.kill(signal.SIGSTOP)
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def new_primary(cluster: Cluster, victim: Program) -> int:
    """Wait until the Sentinels name another primary than `victim`; its port."""
    return wait_until(lambda: cluster.primary_port() not in (None, victim.port) and cluster.primary_port(),
                      timeout=30, what="a new primary")  # fmt: skip


def drill_primary_frozen(cluster: Cluster, probes: list[Probe], users: dict, *, seconds: float,
                         verbose: bool = False, history: History | None = None) -> Drill:  # fmt: skip
    """Freeze the primary past down-after-milliseconds, revoke on the new primary, resume the old one."""
    drill = Drill(FROZEN, tolerated={measured.SESSION_REDIS}, verbose=verbose, history=history)
    state_bounds(drill, cluster.env)
    revocations = prepare_revocations(cluster, users)
    victim = cluster.primary()
    with Load(drill, probes, logins_for(cluster, users)) as load:
        time.sleep(seconds / 3)
        with frozen(victim) as pid:
            froze, wall = drill.now(), time.time()
            drill.mark(f"froze the primary {victim.name} (pid {pid}) with SIGSTOP", at=froze)
            port = new_primary(cluster, victim)
            switched = cluster.switched_after(wall)
            drill.figures["failover_seconds"] = round(switched - wall if switched else drill.now() - froze, 2)
            drill.mark(f"the Sentinels named the primary on port {port}", at=froze + drill.figures["failover_seconds"])
            revoke_all(drill, load, revocations, within=30)
            time.sleep(seconds / 3)  # logins go on while the old primary stays frozen
            drill.figures["frozen_seconds"] = round(drill.now() - froze, 2)
        drill.mark(f"resumed {victim.name} with SIGCONT: it wakes up believing it is the primary")
        reads = tried_everywhere(drill, cluster, revocations, seconds=max(2.0, seconds / 3))
        drill.mark(f"{reads} reads of the revoked credentials on every instance since the resume")
        cluster.wait_healthy()
        drill.mark(f"{victim.name} is a replica of the new primary, in sync")
    check_still_logged_in(drill, probes)
    check_still_revoked(drill, revocations)
    return drill.judge()


def restart_redis(cluster: Cluster, drill: Drill, *, empty: bool) -> None:
    """Stop every Redis node (supervisord's SIGTERM: a clean shutdown, which syncs the append-only
    file), remove what each keeps on disk when `empty`, and start them all again at once."""
    rpc = cluster.supervisor.rpc()
    for node in cluster.redis:
        rpc.stopProcess(node.name)
    drill.mark(f"stopped every Redis node ({', '.join(node.name for node in cluster.redis)})")
    if empty:
        for node in cluster.redis:
            shutil.rmtree(cluster.workdir / f"{node.name}-aof", ignore_errors=True)
            (cluster.workdir / f"{node.name}.rdb").unlink(missing_ok=True)
        drill.mark("removed their files: they start empty")
    for node in cluster.redis:
        rpc.startProcess(node.name, False)
    drill.mark("started them all again")


def drill_restart_all(cluster: Cluster, probes: list[Probe], users: dict, *, persistence: str, seconds: float,
                      verbose: bool = False, history: History | None = None) -> Drill:  # fmt: skip
    """Restart every Redis node, empty ("none") or from its append-only file ("aof")."""
    # With no Redis node up, an honest 503 with Retry-After is a right answer for the cut-off too.
    tolerated = {measured.SESSION_REDIS, measured.JWT_CUTOFF}
    drill = Drill(RESTARTED[persistence], tolerated=tolerated, verbose=verbose, history=history)
    state_bounds(drill, cluster.env)
    base, empty = cluster.group_url("main"), persistence == "none"
    revocations = prepare_revocations(cluster, users)
    kept = [log_in(base, *users["session"]) for _ in range(KEPT_SESSIONS)]
    kept_probes = [Probe(measured.SESSION_REDIS, f"{base}/accounts/profile/", client,
                         f"{users['session'][0]}/session-kept-{n}") for n, client in enumerate(kept)]  # fmt: skip
    # Empty, the Redis sessions are lost by design: read apart (below), not in the history's load.
    load_probes = [p for p in probes if p.scheme != measured.SESSION_REDIS] if empty else [*probes, *kept_probes]
    with Load(drill, load_probes, [] if empty else logins_for(cluster, users)) as load:
        revoke_all(drill, load, revocations, within=10)
        time.sleep(seconds / 3)
        stopped = drill.now()
        restart_redis(cluster, drill, empty=empty)
        cluster.wait_healthy(timeout=90)
        drill.figures["redis_back_seconds"] = round(drill.now() - stopped, 2)
        drill.mark("a primary and every replica in sync again")
        wait_until(lambda: logins_work(cluster, *users["session"]), timeout=60, what="a login at every instance")
        drill.figures["logins_back_seconds"] = round(drill.now() - stopped, 2)
        drill.mark("a login succeeds at every instance again")
        time.sleep(seconds / 3)
    survived = sum(1 for probe in kept_probes if probe.status()[0] == 200)
    drill.figures["redis_sessions_kept"] = f"{survived} of {len(kept)}"
    drill.mark(f"Redis sessions logged in before the restart and still logged in: {survived} of {len(kept)}")
    check_still_logged_in(drill, [p for p in load_probes if p not in kept_probes])
    check_still_revoked(drill, revocations)
    return drill.judge()


def run(env: dict[str, str], workdir: Path, history: History, *, users: dict = DEMO_USERS, instances: int,
        seconds: float, verbose: bool = False) -> list[Drill]:  # fmt: skip
    """The three drills, in turn, on one cluster of their own (the deployment's: AOF on every node)."""
    cluster = Cluster(env, workdir, groups={"main": (instances, MAIN)}, state_path=workdir / "state.json")
    try:
        cluster.start()
        probes = probes_for(cluster, users)
        drills = [drill_primary_frozen(cluster, probes, users, seconds=seconds, verbose=verbose, history=history)]
        for persistence in ("none", "aof"):
            cluster.wait_recovered()
            drills.append(drill_restart_all(cluster, probes_for(cluster, users), users, persistence=persistence,
                                            seconds=seconds, verbose=verbose, history=history))  # fmt: skip
        return drills
    finally:
        cluster.stop()
