"""`python -m deploy.cluster.drill [--quick]` (`make drill`): the cluster's failure drills and figures.

Starts the cluster on a PostgreSQL server of its own (deploy.cluster.postgres), with a second group
of instances for the schemes that keep nothing in Redis (database sessions, stateless
JWT), then:
1. measures requests per second through nginx with one, two and three instances;
2. kills one app instance of each group under load: nginx must route around it;
3. kills the Redis primary right after revocations: Sentinel must promote the replica,
   nobody is silently logged out, no revocation is lost;
4. restarts PostgreSQL: 503 with Retry-After, then recovery without restarting the app;
then each drill module of MODULES on a cluster of its own (deploy.cluster.drill_redis: a frozen
primary and empty restarts; drill_partition: split brain; drill_clocks: skewed clocks;
drill_feed: the verifier's feed delayed, cut and replayed; drill_single: one Sentinel, one Redis
replica, the nginx worker). A module plugs in with
`run(env, workdir, history, *, instances, seconds, verbose) -> Drill | list[Drill]`: env is the
site on this run's PostgreSQL (migrated, demo users seeded), workdir a directory of its own; it
stops every process it starts. Every drill records its requests, logins and revocations in
one History (deploy.cluster.history); after each, deploy.cluster.checker judges it (a revoked
credential accepted beyond its scheme's bound, a live one refused, an acknowledged write lost,
the longest time without a login). Prints each drill's timeline and the checker's table per
fault and per scheme, writes them for /compare/ (and the history as JSON lines beside them)
and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from authdemo import measured
from deploy.cluster.checker import check
from deploy.cluster.drill_kit import (
    SCHEMES,
    Drill,
    Load,
    Logins,
    Probe,
    Revocation,
    check_still_logged_in,
    check_still_revoked,
    children,
    kill_until_gone,
    probes_for,
    revoke_all,
)
from deploy.cluster.history import History
from deploy.cluster.launcher import MAIN, STATE, STATELESS, Cluster, missing_programs
from deploy.cluster.postgres import OwnPostgres, postgres_bin
from deploy.cluster.supervisor import Program
from harness.logins import bearer, log_in, post_form
from harness.stack import ROOT, Stores, base_env, ensure_wrk, prepare_site, wait_until

RESULTS = {"full": ROOT / "bench" / "results" / "cluster.json", "quick": ROOT / "artifacts" / "drill" / "cluster.json"}
HISTORY = ROOT / "artifacts" / "drill" / "history.jsonl"  # the run's every request: an artefact, not for git
DEMO_USERS = {"session": ("alice", "alice-demo-pass"), "token": ("bob", "bob-demo-pass"),
              "revoked": ("admin", "admin-demo-pass")}  # fmt: skip
MODULES = ("drill_redis", "drill_partition", "drill_clocks", "drill_feed", "drill_single")  # deploy.cluster.<name>.run


def state_bounds(drill: Drill, env: dict[str, str]) -> float:
    """The bound B of each of the cluster's schemes under this drill: LOCAL_TIER_BOUND as the app
    instances run with it (each process's copy is at most that stale); stateless JWT has none.
    B, in seconds."""
    bound = float(env.get("LOCAL_TIER_BOUND") or 1.0)
    for scheme in SCHEMES:
        drill.history.bound(scheme, math.inf if scheme == measured.JWT_STATELESS else bound)
    return bound


def logins_for(cluster: Cluster, users: dict) -> list[Logins]:
    """Keep logging in through the main group (Redis sessions): the longest time none succeeds."""
    return [Logins(measured.SESSION_REDIS, cluster.group_url("main"), users["session"])]


def drill_app_killed(cluster: Cluster, probes: list[Probe], *, seconds: float, verbose: bool = False,
                     history: History | None = None, users: dict = DEMO_USERS) -> Drill:  # fmt: skip
    """SIGKILL the granian master of the first instance of every group under load (its worker
    is left orphaned, holding the port, until supervisord's reaper kills it); supervisord must
    start it again, alone. From the signal until the worker is gone is an interruption: what
    was in flight on it may fail; nothing else may."""
    drill = Drill("one app instance killed", tolerated=set(), verbose=verbose, history=history)
    state_bounds(drill, cluster.env)
    victims = [apps[0] for apps in cluster.apps.values()]
    with Load(drill, probes, logins_for(cluster, users)):
        time.sleep(seconds / 3)
        killed = []
        for victim in victims:  # until the reaper has killed its orphaned worker too (supervisord.conf)
            pid = victim.pid
            kill_until_gone(drill, pid, also=children(pid), what=f"{victim.name}'s master and workers killed")
            killed.append((victim, pid))
            drill.mark(f"killed {victim.name}'s master (pid {pid}) with SIGKILL; its workers are gone")
        for victim, pid in killed:
            drill.mark(f"supervisord started {victim.name} again (pid {cluster.wait_back(victim, pid)})")
        time.sleep(seconds / 3)
    check_still_logged_in(drill, probes)
    return drill.judge()


def prepare_revocations(cluster: Cluster, users: dict) -> list[Revocation]:
    """Logins to end right before the kill: a Redis session logged out, and a user logged out
    everywhere whose access token's cut-off was already cached (so a lost write would show)."""
    base = cluster.group_url("main")
    profile, dashboard = f"{base}{SCHEMES[measured.SESSION_REDIS][1]}", f"{base}{SCHEMES[measured.JWT_CUTOFF][1]}"
    leaving = log_in(base, *users["session"])
    ended = log_in(base, *users["session"])  # a copy of the cookie that logs out
    ended.cookies.update(leaving.cookies)
    token = bearer(base, *users["revoked"])
    if token.get(dashboard, timeout=10).status_code != 200:
        raise RuntimeError("the revoked user's token did not work before the drill")
    everywhere = log_in(base, *users["revoked"])
    revoked = users["revoked"][0]
    return [
        Revocation("a Redis session ended by logging out",
                   lambda: post_form(leaving, base, "/accounts/logout/").status_code == 302,
                   (Probe(measured.SESSION_REDIS, profile, ended, f"{users['session'][0]}/session-logged-out"),)),
        Revocation("a session and an access token cut off by 'log out everywhere'",
                   lambda: post_form(everywhere, base, "/accounts/sessions/everywhere/").status_code == 302,
                   (Probe(measured.SESSION_REDIS, profile, everywhere, f"{revoked}/session-everywhere"),
                    Probe(measured.JWT_CUTOFF, dashboard, token, f"{revoked}/token-everywhere"))),
    ]  # fmt: skip


def kill_primary(cluster: Cluster, drill: Drill, *, note: str) -> tuple[Program, int]:
    """SIGKILL the Redis primary; wait for the Sentinels to name another; record how long it took.
    The victim and the pid it had."""
    victim = cluster.primary()
    killed, wall = drill.now(), time.time()
    pid = victim.kill()
    drill.mark(f"{note} killed the primary {victim.name} (pid {pid})", at=killed)
    port = wait_until(lambda: cluster.primary_port() not in (None, victim.port) and cluster.primary_port(),
                      timeout=30, what="a new primary")  # fmt: skip
    # The Sentinels' own log says when they switched; polling them on a busy machine says it late.
    switched = cluster.switched_after(wall)
    seconds = round(switched - wall if switched else drill.now() - killed, 2)
    drill.figures["failover_seconds"] = seconds
    drill.mark(f"the Sentinels switched to the primary on port {port}, {seconds} s after the kill", at=killed + seconds)
    return victim, pid


def drill_redis_primary(cluster: Cluster, probes: list[Probe], users: dict, *, seconds: float, verbose=False,
                        history: History | None = None) -> Drill:  # fmt: skip
    """Revoke, SIGKILL the Redis primary at once, let Sentinel promote; supervisord brings the old
    one back (deploy/redis-node.sh: as a replica of the new primary). The revoked credentials
    are read all along: the failover must not bring them back."""
    drill = Drill("Redis primary killed", tolerated={measured.SESSION_REDIS}, verbose=verbose, history=history)
    state_bounds(drill, cluster.env)
    revocations = prepare_revocations(cluster, users)
    with Load(drill, probes, logins_for(cluster, users)) as load:
        time.sleep(seconds / 3)
        revoke_all(drill, load, revocations)
        killed = drill.now()
        victim, pid = kill_primary(cluster, drill, note=f"{len(revocations)} revocations made, then")
        if any(probe.scheme == measured.SESSION_REDIS for probe in probes):
            back = load.wait_for(measured.SESSION_REDIS, "ok", timeout=30)
            drill.figures["sessions_back_seconds"] = round(back - killed, 2)
        cluster.wait_back(victim, pid)
        cluster.wait_healthy()
        drill.mark(f"supervisord started {victim.name} again, a replica of the new primary, in sync")
        time.sleep(seconds / 3)
    check_still_logged_in(drill, probes)
    check_still_revoked(drill, revocations)
    return drill.judge()


def drill_postgres_restart(postgres: OwnPostgres, probes: list[Probe], *, down: float, verbose=False,
                           history: History | None = None, logins: list[Logins] = ()) -> Drill:  # fmt: skip
    """Stop PostgreSQL under load (fast shutdown), start it again; every scheme must recover alone."""
    drill = Drill("PostgreSQL restarted", tolerated=set(SCHEMES), verbose=verbose, history=history)
    with Load(drill, probes, logins) as load:
        time.sleep(down)
        stopped = drill.now()
        drill.mark("stopping PostgreSQL (fast shutdown)")
        postgres.stop()
        time.sleep(down)
        postgres.start()
        drill.mark("PostgreSQL started again")
        restarted = drill.history.now()
        for probe in probes:
            load.wait_for(probe.scheme, "ok", timeout=30)
        drill.figures["recovered_seconds"] = round(drill.now() - stopped, 2)
        drill.mark("every scheme served again; no app instance was restarted")
        if logins:  # the drill's login loop: the longest time without a login ends with one
            drill.mark(f"a login succeeded again, {load.wait_for_login(since=restarted, timeout=60) - stopped:.2f} s "
                       "after the stop")  # fmt: skip
        time.sleep(down)
    check_still_logged_in(drill, probes)
    return drill.judge()


def wrk_rate(probe: Probe, *, seconds: float) -> float:
    """Requests per second of wrk on the probe's URL with its credentials; errors refuse the figure."""
    headers = [f"{name}: {value}" for name, value in probe.client.headers.items() if name == "Authorization"]
    if probe.client.cookies:
        headers.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in probe.client.cookies.items()))
    command = [ensure_wrk(), "-t2", "-c8", f"-d{seconds}s", *[a for h in headers for a in ("-H", h)], probe.url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on {probe.url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def throughput(cluster: Cluster, probes: list[Probe], *, seconds: float) -> dict[str, dict[str, float]]:
    """Requests per second through nginx with 1, 2, ... of the main group's instances."""
    rates: dict[str, dict[str, float]] = {}
    main = [probe for probe in probes if SCHEMES[probe.scheme][0] == "main"]
    total = len(cluster.apps["main"])
    for count in range(1, total + 1):
        cluster.route_to("main", count)
        for probe in main:
            for attempt in (1, 2):  # a figure with errors is refused; the drills run all the same
                try:
                    rates.setdefault(probe.scheme, {})[str(count)] = round(wrk_rate(probe, seconds=seconds))
                    break
                except RuntimeError as exc:
                    print(f"no figure for {probe.scheme} on {count} instances (attempt {attempt}): {exc}", flush=True)
    cluster.route_to("main", total)
    return rates


def print_drill(drill: Drill, history: History) -> None:
    report = drill.report()
    print(f"\n== {drill.name}: {'OK' if not drill.violations else 'VIOLATIONS'}")
    for line in report["timeline"]:
        print(f"  {line}")
    if "requests" in report:
        failed = ", ".join(f"{s} {report['failed'][s]}/{report['requests'][s]}" for s in report["requests"])
        print(f"  failed requests per scheme: {failed}")
    for line in check(history).lines(drill.name):
        print(f"  checker: {line}")


def attach_checker(drills: list[Drill], history: History, *, added: set[str]) -> None:
    """Add the checker's violations to the drills a module returned: each drill those of its own
    fault if it recorded under its name, else those of the faults no drill names; and the
    requests and failed figures per scheme /compare/ lists, where the drill has none."""
    report, named = check(history), {drill.name for drill in drills}
    for drill in drills:
        faults = [drill.name] if drill.name in added else sorted(added - named)
        for line in (line for fault in faults for line in report.violations(fault)):
            if line not in drill.violations:
                drill.violations.append(line)
        if "requests" not in drill.figures:
            requests, failed = Counter(), Counter()
            for (fault, scheme), cell in report.cells.items():
                if fault in faults:
                    requests[scheme] += cell.requests
                    failed[scheme] += cell.requests - cell.ok
            drill.figures["requests"], drill.figures["failed"] = dict(requests), dict(failed)


def run_modules(env: dict[str, str], workdir: Path, history: History, *, seconds: float,
                modules: tuple[str, ...] = MODULES) -> list[Drill]:  # fmt: skip
    """Each drill module's run() on a cluster of its own; the checker's verdict added to each
    drill it returns (for every fault label the run added). A module that fails is a violation."""
    drills = []
    for name in modules:
        try:
            module = importlib.import_module(f"deploy.cluster.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"deploy.cluster.{name}":
                raise
            print(f"\n{name}: not in this tree, skipped", flush=True)
            continue
        before = {event["fault"] for event in history.events}
        print(f"\n-- {name}", flush=True)
        try:
            ran = module.run(env, workdir / name, history, instances=3, seconds=seconds, verbose=True)
        except Exception as exc:  # noqa: BLE001  (one broken drill must not hide the others' results)
            ran = Drill(name, tolerated=set())
            ran.violate(f"the drill stopped: {type(exc).__name__}: {exc}")
        ran = ran if isinstance(ran, list) else [ran]
        attach_checker(ran, history, added={event["fault"] for event in history.events} - before)
        drills += ran
    return drills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster.drill", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short drills, results in artifacts/drill/")
    parser.add_argument("--state", type=Path, default=STATE, help="where to write the cluster's map")
    parser.add_argument("--only", choices=["cluster", *MODULES], action="append",
                        help="run only these drills (repeatable): the cluster's own, or a module's")  # fmt: skip
    args = parser.parse_args(argv)
    if (missing := missing_programs()) or not postgres_bin():
        print(f"make drill needs: apt-get install -y {' '.join(missing) or 'postgresql'}", file=sys.stderr)
        return 2
    seconds = 3 if args.quick else 9
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the cluster and PostgreSQL on the way out
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-drill-"))
    os.chmod(workdir, 0o755)
    history, drills, rates = History(), [], {}
    postgres = OwnPostgres().init().start()
    try:
        env = {**base_env(Stores("authdemo_drill", 0)), "REDIS_URL": ""}
        env["DATABASE_URL"] = postgres.create_database("authdemo_drill")
        prepare_site(env)
        if not args.only or "cluster" in args.only:
            rates, drills = cluster_drills(env, workdir, postgres, history, args.state, quick=args.quick)
        modules = tuple(m for m in MODULES if not args.only or m in args.only)
        drills += run_modules(env, workdir, history, seconds=seconds, modules=modules)
    finally:
        try:
            postgres.remove()
        finally:
            history.save(HISTORY)
    for drill in drills:
        print_drill(drill, history)
    write_results(RESULTS["quick" if args.quick else "full"], rates, drills, history)
    print(f"the history ({len(history.events)} events) is in {HISTORY.relative_to(ROOT)}: "
          "python -m deploy.cluster.checker checks it again")  # fmt: skip
    return 1 if any(drill.violations for drill in drills) else 0


def cluster_drills(env: dict[str, str], workdir: Path, postgres: OwnPostgres, history: History, state: Path,
                   *, quick: bool) -> tuple[dict, list[Drill]]:  # fmt: skip
    """The cluster's own drills (an app instance, the Redis primary, PostgreSQL), on one cluster
    with a second group of instances for the schemes that keep nothing in Redis."""
    seconds = 3 if quick else 9
    groups = {"main": (3, MAIN), "stateless": (2, STATELESS)}
    cluster = Cluster(env, workdir / "cluster", groups=groups, state_path=state)
    try:
        cluster.start()  # assigned first: a start that fails half-way is still stopped below
        print(f"cluster up at {cluster.url}/ (stateless group at {cluster.group_url('stateless')}/); logs in {workdir}")
        probes = probes_for(cluster, DEMO_USERS)
        rates = throughput(cluster, probes, seconds=2 if quick else 5)
        print(f"requests per second through nginx by number of instances: {rates}", flush=True)
        drills = [
            drill_app_killed(cluster, probes, seconds=seconds, verbose=True, history=history),
            drill_redis_primary(cluster, probes, DEMO_USERS, seconds=seconds, verbose=True, history=history),
            drill_postgres_restart(postgres, probes, down=seconds / 3, verbose=True, history=history,
                                   logins=logins_for(cluster, DEMO_USERS)),
        ]  # fmt: skip
    finally:
        cluster.stop()
    return rates, drills


def write_results(path: Path, rates: dict, drills: list[Drill], history: History) -> None:
    """The figures for /compare/: throughput, each drill's report, and the checker's table
    ({fault: {scheme: row}}) over the whole run."""
    failover = [d.figures["failover_seconds"] for d in drills if "failover_seconds" in d.figures]
    figures = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "throughput": rates, "drills": [drill.report() for drill in drills],
        "failover_seconds": failover[0] if failover else None, "table": check(history).table(),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
