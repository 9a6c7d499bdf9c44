"""`python -m bench.run [--quick]`: measure every scheme against /healthz, interleaved.

Full: rounds of every scheme in a rotating order on empty stores (authdemo and the bare Django
peer on the site's server, granian; the Express and FastAPI peers; /healthz, the token schemes
and the bare ping under gunicorn sync and gthread too, in shorter runs), then with 1,000,000
stored sessions and tokens, plus login, refresh and revocation times, every scheme with one and
with two worker processes, two app processes sharing the stores, and the theft protections'
in-process costs (a DPoP-bound request over a bearer one, a DBSC refresh, the hashed session-key
lookup); results go to bench/results/.
Quick (CI, about two minutes): one short round of the same, and one after storing 1,000 rows (so
the fill stays in step with the models), one and two workers for three schemes, the in-process
costs with few repetitions, written to a git-ignored directory.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from authdemo.measured import BASELINE, JWT_CUTOFF, JWT_STATELESS, PEER_DJANGO_PING, SESSION_REDIS
from bench import dbsc_cost, dpop_cost, environment, peers, scale, secrets_cost, verifier, workers
from bench.in_process import isolated
from bench.load import BENCH_SERVER, BENCH_THREADS, GTHREAD_THREADS, OTHER_SERVERS, bench_server, measure
from bench.report import (
    by_server,
    check_in_process_targets,
    check_operations_targets,
    check_targets,
    spread,
    steady,
    summarize,
    write,
)
from bench.schemes import (
    ALL_SCHEMES,
    ON_EVERY_SERVER,
    SCHEMES,
    check,
    credential_bytes,
    credentials,
    on_other_servers,
    server_settings,
    session_cookies,
)
from harness.stack import ROOT, Server, Stores, base_env, ensure_wrk, prepare_site, recreate_database, start_all


@dataclass(frozen=True)
class Plan:
    mode: str
    warmup: bool
    rounds: int
    seconds: float
    connections: int
    scale_rows: int
    revocations: int  # revocations timed across two processes
    stores: Stores
    out_dir: Path
    in_process: dict[str, dict[str, int]]  # each in-process measure's repetitions; {} for its own defaults
    other_servers: tuple[str, ...]  # the schemes measured under the other server kinds too
    other_servers_share: float  # a run under another server kind lasts this share of `seconds`
    workers_schemes: tuple[str, ...] | None  # measured with one and two workers; None: every scheme


FULL = Plan(
    "full",
    True,
    4,
    4,
    4,
    1_000_000,
    100,
    Stores("authdemo_bench", 9),
    ROOT / "bench" / "results",
    {"dpop": {}, "dbsc": {}, "lookup": {}},
    ON_EVERY_SERVER,
    0.5,
    None,
)
QUICK = Plan("quick", False, 1, 1, 4, 1_000, 5, Stores("authdemo_bench_quick", 10), ROOT / "artifacts" / "bench-quick",
             {"dpop": {"repeats": 3, "calls": 20}, "dbsc": {"rounds": 2, "calls": 20},
              "lookup": {"repeats": 3, "calls": 10_000}}, (BASELINE, JWT_STATELESS, PEER_DJANGO_PING), 1.0,
             (BASELINE, SESSION_REDIS, JWT_CUTOFF))  # fmt: skip


def run_rounds(plan: Plan, servers: dict[str, Server], schemes) -> tuple[list[dict], dict]:
    """Measure every scheme once per round, rotating the order so drift spreads evenly.

    Credentials are fresh each round, as a browser's would be: wrk replays one cookie, and
    a signed-cookie session older than SESSION_TOUCH_INTERVAL would otherwise be
    re-touched (one UPDATE) on every request, because the re-issued cookie is never stored.
    """
    rounds, sizes = [], {}
    for number in range(0 if plan.warmup else 1, plan.rounds + 1):  # round 0 only warms up
        targets = credentials(schemes, servers, session_cookies(schemes, servers))
        order = schemes[number % len(schemes) :] + schemes[: number % len(schemes)]
        results = {}
        for scheme in order:
            check(scheme, targets[scheme.key])
            seconds = plan.seconds * (plan.other_servers_share if "@" in scheme.key else 1)
            seconds = seconds if number else min(seconds, 1)
            results[scheme.key] = measure(
                targets[scheme.key], plan.stores, seconds=seconds, connections=plan.connections
            )
            sizes[scheme.key] = credential_bytes(targets[scheme.key])
        if number:
            rounds.append(results)
        print(f"  round {number}/{plan.rounds} done", flush=True)
    return rounds, sizes


def phase(plan: Plan, servers: dict[str, Server], schemes) -> tuple[dict, dict[str, dict]]:
    """The rows of the benchmark's own server, and {kind: rows} of the other server kinds."""
    rounds, sizes = run_rounds(plan, servers, schemes)
    summary = summarize(rounds)
    for key, row in summary.items():
        row["credential_bytes"] = sizes[key]
    return by_server(summary)


def make_servers(names, env: dict[str, str], stores: Stores, logs: Path, *, workers: int = 1) -> dict[str, Server]:
    """The servers the schemes name, not started: authdemo processes (bench.schemes.server_settings)
    and the peers; `<name>@<kind>` under another kind of server than the benchmark's own."""
    found = peers.peer_servers(env, stores, logs) if workers == 1 else {}
    servers = {}
    for name in dict.fromkeys(names):
        base, _, kind = name.partition("@")
        if base == peers.BARE and kind:
            servers[name] = peers.bare_server(env, stores, logs, kind=kind)
        elif base in found:
            servers[name] = found[base]
        else:
            own = f"{name}-x{workers}" if workers > 1 else name
            servers[name] = bench_server(own, {**env, **server_settings()[base]}, logs / f"{own}.log",
                                         kind=kind or BENCH_SERVER, workers=workers)  # fmt: skip
    return servers


def in_process(plan: Plan, env: dict[str, str]) -> dict:
    """Time the theft protections in-process, each in an interpreter of its own (one Django
    setup per process): with the run's Redis, where the DPoP replay check keeps its jtis, and
    no database URL, so dbsc_cost makes its throwaway SQLite database in memory."""
    own = {name: value for name, value in env.items() if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    results = {
        "dpop": isolated(dpop_cost.measure, own, "ES256", **plan.in_process["dpop"]),
        "dbsc": isolated(dbsc_cost.measure_all, own, **plan.in_process["dbsc"]),
        "hashed_lookup_us": isolated(secrets_cost.measure, own, **plan.in_process["lookup"]),
    }
    return {**results, "targets": check_in_process_targets(results)}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round, and one on 1,000 stored rows (CI)")
    parser.add_argument("--out", type=Path, help="directory for latest.json/.md/.svg")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out_dir = args.out or plan.out_dir
    ensure_wrk()
    print(f"bench ({plan.mode}): preparing {plan.stores.database} and redis db {plan.stores.redis_db}", flush=True)
    recreate_database(plan.stores)
    env = base_env(plan.stores)
    prepare_site(env)
    peers.prepare_bare(env, plan.stores)
    logs = Path(tempfile.mkdtemp(prefix="authdemo-bench-"))
    schemes = ALL_SCHEMES + on_other_servers(OTHER_SERVERS, plan.other_servers)
    servers = make_servers([scheme.server for scheme in schemes], env, plan.stores, logs)
    try:
        start_all(list(servers.values()))
        results = collect(plan, servers, schemes, env, logs)
    finally:
        for server in servers.values():
            server.stop()
        plan.stores.redis().flushdb()  # a million keys in a shared Redis help no one after the run
    path = write(results, out_dir)
    print(f"bench: wrote {path} and .md/.svg beside it (server logs in {logs})")
    if steady(results) is False:
        print(f"bench: NOT A STEADY RUN (ratios moved by up to {spread(results):.2f}x between rounds); measure again")
    return path


def collect(plan: Plan, servers: dict[str, Server], schemes, env: dict[str, str], logs: Path) -> dict:
    """Run the phases of the plan and gather their results with the context of the run."""
    print("bench: empty stores, authdemo and its peers, and the other server kinds", flush=True)
    empty, others = phase(plan, servers, schemes)
    operations = {"empty": scale.time_operations(servers["jwt-cutoff"], samples=7 if plan.warmup else 1)}
    load = {
        "empty": scale.refresh_load(servers["jwt-cutoff"], plan.stores, seconds=plan.seconds, clients=plan.connections)
    }
    full = None
    if plan.scale_rows:
        print(f"bench: filling the stores with {plan.scale_rows:,} sessions and tokens", flush=True)
        fill_seconds = scale.fill(plan.stores, rows=plan.scale_rows)
        full, _ = phase(plan, servers, SCHEMES)  # the peers' stores are not filled
        operations[f"{plan.scale_rows:,}-row"] = scale.time_operations(
            servers["jwt-cutoff"], samples=7 if plan.warmup else 1
        )
        load[f"{plan.scale_rows:,}-row"] = scale.refresh_load(
            servers["jwt-cutoff"], plan.stores, seconds=plan.seconds, clients=plan.connections
        )
    print("bench: one and two worker processes", flush=True)
    chosen = tuple(s for s in SCHEMES if plan.workers_schemes is None or s.key in plan.workers_schemes)
    two = make_servers([scheme.server for scheme in chosen], env, plan.stores, logs, workers=2)
    per_machine = workers.one_and_two(chosen, servers, two, seconds=plan.seconds, connections=plan.connections)
    pair = scale.two_processes(
        env, logs, plan.stores, seconds=plan.seconds, connections=plan.connections, throughput=False,
        revocations=plan.revocations,
    )  # fmt: skip
    print("bench: the verifier service (RS256, ES256, EdDSA) and the revocation feed", flush=True)
    service = verifier.run(env, logs, seconds=plan.seconds, connections=plan.connections,
                           revocations=100 if plan.warmup else 3,
                           algorithms=verifier.ALGORITHMS if plan.warmup else verifier.ALGORITHMS[-1:])  # fmt: skip
    print("bench: in-process costs of DPoP, DBSC and the hashed session key", flush=True)
    theft = in_process(plan, env)
    service["algorithms"] = {"HS256 (authdemo)": verifier.hs256_row(servers["jwt-off"], env, empty["jwt_stateless"]),
                             **service["algorithms"]}  # fmt: skip
    others_seconds = plan.seconds * plan.other_servers_share
    return {
        "mode": plan.mode,
        "measured_at": environment.now(),
        "machine": environment.machine(),
        "settings": f"authdemo and the bare Django peer: 1 {BENCH_SERVER} worker process per server, "
        f"{BENCH_THREADS} app thread, keep-alive (the Express peer: one node process; the FastAPI peer: one "
        f"uvicorn process; both keep-alive); wrk -t1 -c{plan.connections}, {plan.seconds:g} s per run, "
        f"{plan.rounds} interleaved rounds (medians)",
        "rounds": plan.rounds,
        "server": BENCH_SERVER,
        "servers_settings": f"One process each: gunicorn sync (one request at a time, a connection per request), "
        f"gunicorn gthread ({GTHREAD_THREADS} threads, keep-alive); {others_seconds:g} s per run in the same "
        f"{plan.rounds} rounds.",
        "empty": empty,
        "servers": others,
        "full": full,
        "scale_rows": plan.scale_rows,
        "fill_seconds": fill_seconds if full else None,
        "operations": operations,
        "refresh_load": load,
        "workers": per_machine,
        "scalability": pair,
        "verifier": service,
        "in_process": theft,
        "targets": check_targets(empty, full, pair, rows=plan.scale_rows, server=BENCH_SERVER, servers=others)
        + check_operations_targets(operations, rows=plan.scale_rows),
    }


if __name__ == "__main__":
    main()
