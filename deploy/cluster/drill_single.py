"""One piece of the cluster lost at a time, as drills: `make drill` runs `run()` on a cluster of its
own (`python -m deploy.cluster.drill --only drill_single` alone); the suite runs each drill short
on its cluster (tests/cluster/test_drills.py).

Losing any single Redis node, Sentinel, app instance or nginx worker must leave logins, logouts
and revocations working, with no acknowledged revocation lost. The app instance and the Redis
primary are drilled in deploy.cluster.drill; here the rest:

- `SENTINEL`: one Sentinel of three killed and kept down. Each app process reads Redis only
  while a majority of the Sentinels confirm the primary (accounts.sentinel's fence); two of
  three are a majority, so users must notice nothing.
- `REPLICA`: one Redis replica of two killed and kept down. A write counts once one replica has
  it (WAIT 1); the other replica still acknowledges, so no write may fail.
- `NGINX_WORKER`: nginx's worker killed (not its master), again every KILL_EVERY seconds; the
  master starts a new one at once. Only the requests in flight on the killed worker may fail.

supervisord restarts a killed program within some 20 ms, so a bare kill of a Sentinel or a replica
tests a reconnect, not the loss of the node. So supervisord is told to stop the program in the
same instant it is killed, and leaves it down for the fault; then it starts it again, and the
drill waits until the node is back in the cluster.

During each fault the drill's load reads every scheme through nginx and logs in again and again;
a Redis session is logged out and a user logged out everywhere (their access token cut off), and
once the bound has passed the revoked credentials and the live ones are read at every instance.
Every request, login and revocation goes into the history, which deploy.cluster.checker judges.
No scheme depends on the piece lost, so any 503 is a violation. The figures say what users got
while the piece was down: logins, revocations acknowledged, 503s, the longest time without a login.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from authdemo import measured
from deploy.cluster.drill import DEMO_USERS, logins_for, prepare_revocations, state_bounds
from deploy.cluster.drill_kit import (
    TIMEOUT,
    Drill,
    Load,
    Probe,
    check_still_logged_in,
    check_still_revoked,
    children,
    kill_until_gone,
    on_every_instance,
    probes_for,
    revoke_all,
    tried_everywhere,
)
from deploy.cluster.history import ERROR, UNAVAILABLE, History, overlaps
from deploy.cluster.launcher import MAIN, Cluster
from deploy.cluster.supervisor import Program
from harness.stack import wait_until

SENTINEL = "one Sentinel of three killed"
REPLICA = "one Redis replica of two killed"
NGINX_WORKER = "the nginx worker killed"
VICTIMS = {SENTINEL: lambda cluster: cluster.sentinels[0], REPLICA: lambda cluster: cluster.replica()}
HOLD = 4.0  # seconds a fault lasts at least: several logins (each a password hash) and past the bound
KILL_EVERY = 2.0  # seconds between two kills of the nginx worker: logins in between


@contextlib.contextmanager
def held_down(cluster: Cluster, program: Program) -> Iterator[int]:
    """SIGKILL `program` by its pid and keep it down for the block; then supervisord starts it
    again. It is frozen (SIGSTOP) while supervisord is told to stop it, so that it dies by the
    SIGKILL, as in a crash, without acting on supervisord's SIGTERM. Its pid."""
    rpc = cluster.supervisor.rpc()
    pid = program.kill(signal.SIGSTOP)
    try:
        rpc.stopProcess(program.name, False)
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: rpc.getProcessInfo(program.name)["statename"] == "STOPPED", timeout=TIMEOUT,
               what=f"supervisord to leave {program.name} down")  # fmt: skip
    try:
        yield pid
    finally:
        rpc.startProcess(program.name, False)


def kill_worker(drill: Drill, cluster: Cluster) -> None:
    """SIGKILL nginx's worker by its pid (the master is left alone), and wait until the master has
    started another; from the signal until the worker is gone is an interruption of the drill."""
    pid = wait_until(lambda: children(cluster.nginx.pid), timeout=TIMEOUT, what="an nginx worker")[0]
    since = drill.now()
    kill_until_gone(drill, pid, also=[], what=f"nginx worker {pid} killed", timeout=TIMEOUT)
    others = lambda: [other for other in children(cluster.nginx.pid) if other != pid]  # noqa: E731
    new = wait_until(others, timeout=TIMEOUT, what="nginx's master to start a worker")[0]
    drill.mark(f"killed the nginx worker (pid {pid}) with SIGKILL; the master started pid {new}", at=since)


def while_down(drill: Drill, since: float, until: float) -> dict:
    """What users got from the drill between `since` and `until` (History.now()): the logins,
    revocations and requests started then, and how they ended."""
    events = [e for e in drill.history.events if e["fault"] == drill.name and since <= e.get("start", -1) < until]
    logins = [e["ok"] for e in events if e["kind"] == "login"]
    revocations = [e["acknowledged"] for e in events if e["kind"] == "revocation"]
    answers = [e["outcome"] for e in events if e["kind"] == "request"]
    return {
        "seconds": round(until - since, 2), "logins": sum(logins), "failed_logins": len(logins) - sum(logins),
        "revocations": sum(revocations), "unacknowledged_revocations": len(revocations) - sum(revocations),
        "requests": len(answers), "unavailable": answers.count(UNAVAILABLE), "errors": answers.count(ERROR),
    }  # fmt: skip


def failed_logins(drill: Drill) -> tuple[list[dict], list[dict]]:
    """The drill's failed logins: (those in flight at an interruption, the others: violations)."""
    failed = [e for e in drill.history.events if e["fault"] == drill.name and e["kind"] == "login" and not e["ok"]]
    kills = drill.history.interruptions()
    cut = [e for e in failed if overlaps(e["start"], e["end"], kills)]
    return cut, [e for e in failed if e not in cut]


def conclude(drill: Drill, since: float, until: float, *, what: str) -> Drill:
    """Judge the drill (a failed login is a violation too, unless it was in flight at a kill); add
    to its figures and timeline what users got while `what` (between `since` and `until`,
    History.now()), and whether writes stopped, for how long."""
    during = drill.figures["during_fault"] = while_down(drill, since, until)
    cut, failed = failed_logins(drill)
    for login in failed:
        drill.violate(f"a login failed: {login['credential']} ({login.get('detail', '')})")
    drill.judge()
    drill.mark(f"while {what} ({during['seconds']:.2f} s): {during['logins']} logins ({during['failed_logins']} "
               f"failed), {during['revocations']} revocations acknowledged ({during['unacknowledged_revocations']} "
               f"not), {during['requests']} requests ({during['unavailable']} answered 503, {during['errors']} "
               "errors)")  # fmt: skip
    longest = drill.figures["checker"].get(measured.SESSION_REDIS, {}).get("longest_without_login") or 0.0
    stopped = failed or during["unacknowledged_revocations"] or during["unavailable"]
    drill.figures["writes_stopped_seconds"] = longest if stopped else 0.0
    drill.figures["logins_in_flight_failed"] = len(cut)
    if stopped:
        drill.mark(f"writes stopped: they worked again within {longest:.2f} s (the longest time without a login)")
    else:
        drill.mark(
            "writes (logins, logouts, revocations) never stopped"
            + (f"; logins failed in flight on a killed worker: {len(cut)} (none for {longest:.2f} s)" if cut else "")
        )
    return drill


def drill_one_down(cluster: Cluster, probes: list[Probe], users: dict, *, fault: str, seconds: float,
                   verbose: bool = False, history: History | None = None) -> Drill:  # fmt: skip
    """Kill the piece `fault` names (SENTINEL or REPLICA) and keep it down while users log in, log
    out and revoke; read every credential at every instance; let supervisord start it again."""
    drill = Drill(fault, tolerated=set(), verbose=verbose, history=history)
    bound = state_bounds(drill, cluster.env)
    revocations = prepare_revocations(cluster, users)
    victim = VICTIMS[fault](cluster)
    with Load(drill, probes, logins_for(cluster, users)) as load:
        time.sleep(seconds / 3)
        since = drill.history.now()
        with held_down(cluster, victim) as pid:
            drill.mark(f"killed {victim.name} (pid {pid}) with SIGKILL; supervisord leaves it down")
            revoke_all(drill, load, revocations)
            time.sleep(max(seconds / 3, HOLD, bound))  # users go on with it down, past the bound
            reads = tried_everywhere(drill, cluster, revocations, seconds=1)
            check_still_logged_in(drill, on_every_instance(cluster, probes), when=f"while {victim.name} was down")
            drill.mark(f"read the revoked credentials {reads} times at the instances, then the live ones at each")
            until = drill.history.now()
        drill.mark(f"supervisord starts {victim.name} again")
        cluster.wait_back(victim, pid)
        cluster.wait_healthy()
        drill.figures["back_seconds"] = round(drill.history.now() - until, 2)
        drill.mark(f"{victim.name} back in the cluster (the Sentinels see it, every replica in sync)")
        time.sleep(seconds / 3)
    check_still_logged_in(drill, probes)
    check_still_revoked(drill, revocations)
    return conclude(drill, since, until, what=f"{victim.name} was down")


def drill_nginx_worker(cluster: Cluster, probes: list[Probe], users: dict, *, seconds: float,
                       verbose: bool = False, history: History | None = None) -> Drill:  # fmt: skip
    """Kill nginx's worker every KILL_EVERY seconds while users log in, log out and revoke."""
    drill = Drill(NGINX_WORKER, tolerated=set(), verbose=verbose, history=history)
    state_bounds(drill, cluster.env)
    revocations = prepare_revocations(cluster, users)
    with Load(drill, probes, logins_for(cluster, users)) as load:
        time.sleep(seconds / 3)
        since, end, pending = drill.history.now(), drill.now() + max(seconds / 3, HOLD), list(revocations)
        while drill.now() < end:
            kill_worker(drill, cluster)
            if pending:  # through the new worker, right after the kill
                revoke_all(drill, load, [pending.pop(0)])
            time.sleep(KILL_EVERY)
        until = drill.history.now()
        drill.figures["kills"] = len(drill.history.interruptions())
        time.sleep(seconds / 3)
    check_still_logged_in(drill, probes)
    check_still_revoked(drill, revocations)
    return conclude(drill, since, until, what="the nginx worker was being killed")


def run(env: dict[str, str], workdir: Path, history: History, *, users: dict = DEMO_USERS, instances: int,
        seconds: float, verbose: bool = False) -> list[Drill]:  # fmt: skip
    """The three drills, in turn, on one cluster of their own."""
    cluster = Cluster(env, workdir, groups={"main": (instances, MAIN)}, state_path=workdir / "state.json")
    try:
        cluster.start()
        drills = []
        for fault in (SENTINEL, REPLICA):
            cluster.wait_recovered()
            drills.append(drill_one_down(cluster, probes_for(cluster, users), users, fault=fault, seconds=seconds,
                                         verbose=verbose, history=history))  # fmt: skip
        cluster.wait_recovered()
        drills.append(drill_nginx_worker(cluster, probes_for(cluster, users), users, seconds=seconds,
                                         verbose=verbose, history=history))  # fmt: skip
        return drills
    finally:
        cluster.stop()
