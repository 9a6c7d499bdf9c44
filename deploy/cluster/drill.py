"""`python -m deploy.cluster.drill [--quick]` (`make drill`): the cluster's failure drills and figures.

Starts the cluster on a PostgreSQL server of its own (deploy.cluster.postgres), with a second group
of instances for the schemes that keep nothing in Redis (database sessions, stateless
JWT), then:
1. measures requests per second through nginx with one, two and three instances;
2. kills one app instance of each group under load: nginx must route around it;
3. kills the Redis primary right after revocations: Sentinel must promote the replica,
   nobody is silently logged out, no revocation is lost;
4. restarts PostgreSQL: 503 with Retry-After, then recovery without restarting the app.
Prints each drill's timeline, writes the figures for /compare/ and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from authdemo import measured
from deploy.cluster.drill_kit import (
    SCHEMES,
    Drill,
    Load,
    Probe,
    Revocation,
    check_still_logged_in,
    check_still_revoked,
    probes_for,
)
from deploy.cluster.launcher import MAIN, STATE, STATELESS, Cluster, missing_programs
from deploy.cluster.postgres import OwnPostgres, postgres_bin
from deploy.cluster.supervisor import Program
from harness.logins import bearer, log_in, post_form
from harness.stack import ROOT, Stores, base_env, ensure_wrk, prepare_site, wait_until

RESULTS = {"full": ROOT / "bench" / "results" / "cluster.json", "quick": ROOT / "artifacts" / "drill" / "cluster.json"}
DEMO_USERS = {"session": ("alice", "alice-demo-pass"), "token": ("bob", "bob-demo-pass"),
              "revoked": ("admin", "admin-demo-pass")}  # fmt: skip


def drill_app_killed(cluster: Cluster, probes: list[Probe], *, seconds: float, verbose: bool = False) -> Drill:
    """SIGKILL the gunicorn master of the first instance of every group under load (its worker
    is left orphaned, holding the port); supervisord must start it again, alone."""
    drill = Drill("one app instance killed", tolerated=set(), verbose=verbose)
    victims = [apps[0] for apps in cluster.apps.values()]
    with Load(drill, probes):
        time.sleep(seconds / 3)
        killed = [(victim, victim.kill()) for victim in victims]
        for victim, pid in killed:
            drill.mark(f"killed {victim.name}'s master (pid {pid}) with SIGKILL")
        for victim, pid in killed:
            drill.mark(f"supervisord started {victim.name} again (pid {cluster.wait_back(victim, pid)})")
        time.sleep(seconds / 3)
    check_still_logged_in(drill, probes)
    return drill.judge()


def prepare_revocations(cluster: Cluster, users: dict) -> tuple[list, list[Revocation]]:
    """Logins to end right before the kill: a Redis session logged out, and a user logged out
    everywhere whose access token's cut-off was already cached (so a lost write would show)."""
    base = cluster.group_url("main")
    leaving = log_in(base, *users["session"])
    ended = log_in(base, *users["session"])  # a copy of the cookie that logs out
    ended.cookies.update(leaving.cookies)
    token = bearer(base, *users["revoked"])
    if token.get(f"{base}/api/dashboard/", timeout=10).status_code != 200:
        raise RuntimeError("the revoked user's token did not work before the drill")
    everywhere = log_in(base, *users["revoked"])
    actions = [
        lambda: post_form(leaving, base, "/accounts/logout/"),
        lambda: post_form(everywhere, base, "/accounts/sessions/everywhere/"),
    ]
    revocations = [
        Revocation("a Redis session ended by logging out",
                   lambda: ended.get(f"{base}/accounts/profile/", allow_redirects=False).status_code == 302),
        Revocation("an access token cut off by 'log out everywhere'",
                   lambda: token.get(f"{base}/api/dashboard/", timeout=10).status_code == 401),
    ]  # fmt: skip
    return actions, revocations


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


def drill_redis_primary(cluster: Cluster, probes: list[Probe], users: dict, *, seconds: float, verbose=False) -> Drill:
    """Revoke, SIGKILL the Redis primary at once, let Sentinel promote; supervisord brings the old
    one back (deploy/redis-node.sh: as a replica of the new primary)."""
    drill = Drill("Redis primary killed", tolerated={measured.SESSION_REDIS}, verbose=verbose)
    actions, revocations = prepare_revocations(cluster, users)
    with Load(drill, probes) as load:
        time.sleep(seconds / 3)
        for action in actions:
            if (status := action().status_code) != 302:
                drill.violate(f"a revocation right before the kill answered {status}")
        killed = drill.now()
        victim, pid = kill_primary(cluster, drill, note=f"{len(actions)} revocations made, then")
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


def drill_postgres_restart(postgres: OwnPostgres, probes: list[Probe], *, down: float, verbose=False) -> Drill:
    """Stop PostgreSQL under load (fast shutdown), start it again; every scheme must recover alone."""
    drill = Drill("PostgreSQL restarted", tolerated=set(SCHEMES), verbose=verbose)
    with Load(drill, probes) as load:
        time.sleep(down)
        stopped = drill.now()
        drill.mark("stopping PostgreSQL (fast shutdown)")
        postgres.stop()
        time.sleep(down)
        postgres.start()
        drill.mark("PostgreSQL started again")
        for probe in probes:
            load.wait_for(probe.scheme, "ok", timeout=30)
        drill.figures["recovered_seconds"] = round(drill.now() - stopped, 2)
        drill.mark("every scheme served again; no app instance was restarted")
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
            rates.setdefault(probe.scheme, {})[str(count)] = round(wrk_rate(probe, seconds=seconds))
    cluster.route_to("main", total)
    return rates


def print_drill(drill: Drill) -> None:
    report = drill.report()
    print(f"\n== {drill.name}: {'OK' if not drill.violations else 'VIOLATIONS'}")
    for line in report["timeline"]:
        print(f"  {line}")
    failed = ", ".join(f"{s} {report['failed'][s]}/{report['requests'][s]}" for s in report["requests"])
    print(f"  failed requests per scheme: {failed}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster.drill", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short drills, results in artifacts/drill/")
    parser.add_argument("--state", type=Path, default=STATE, help="where to write the cluster's map")
    args = parser.parse_args(argv)
    if (missing := missing_programs()) or not postgres_bin():
        print(f"make drill needs: apt-get install -y {' '.join(missing) or 'postgresql'}", file=sys.stderr)
        return 2
    seconds = 3 if args.quick else 9
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the cluster and PostgreSQL on the way out
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-drill-"))
    os.chmod(workdir, 0o755)
    postgres = OwnPostgres().init().start()
    cluster = None
    try:
        env = {**base_env(Stores("authdemo_drill", 0)), "REDIS_URL": ""}
        env["DATABASE_URL"] = postgres.create_database("authdemo_drill")
        prepare_site(env)
        groups = {"main": (3, MAIN), "stateless": (2, STATELESS)}
        cluster = Cluster(env, workdir / "cluster", groups=groups, state_path=args.state)
        cluster.start()  # assigned first: a start that fails half-way is still stopped below
        print(f"cluster up at {cluster.url}/ (stateless group at {cluster.group_url('stateless')}/); logs in {workdir}")
        probes = probes_for(cluster, DEMO_USERS)
        rates = throughput(cluster, probes, seconds=2 if args.quick else 5)
        print(f"requests per second through nginx by number of instances: {rates}", flush=True)
        drills = [
            drill_app_killed(cluster, probes, seconds=seconds, verbose=True),
            drill_redis_primary(cluster, probes, DEMO_USERS, seconds=seconds, verbose=True),
            drill_postgres_restart(postgres, probes, down=seconds / 3, verbose=True),
        ]
    finally:
        try:
            if cluster:
                cluster.stop()
        finally:
            postgres.remove()
    for drill in drills:
        print_drill(drill)
    write_results(RESULTS["quick" if args.quick else "full"], rates, drills)
    return 1 if any(drill.violations for drill in drills) else 0


def write_results(path: Path, rates: dict, drills: list[Drill]) -> None:
    figures = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "throughput": rates, "drills": [drill.report() for drill in drills],
        "failover_seconds": next(d.figures["failover_seconds"] for d in drills if "failover_seconds" in d.figures),
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
