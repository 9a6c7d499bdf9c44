"""`python -m bench.run [--quick]`: measure every scheme against /healthz, interleaved.

Full: rounds of every scheme in a rotating order on empty stores, then with 1,000,000
stored sessions and tokens, plus login, refresh and revocation times and two app
processes sharing the stores, and the theft protections' in-process costs (a DPoP-bound request
over a bearer one, a DBSC refresh, the hashed session-key lookup); results go to bench/results/.
Quick (CI, about two minutes): one short round, and one after storing 1,000 rows (so the fill
stays in step with the models), the in-process costs with few repetitions, written to a
git-ignored directory.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import dbsc_cost, dpop_cost, environment, peers, scale, secrets_cost, verifier
from bench.in_process import isolated
from bench.load import BENCH_WORKER_CLASS, COUNTED_APP, measure
from bench.report import check_in_process_targets, check_targets, spread, steady, summarize, write
from bench.schemes import ALL_SCHEMES, SCHEMES, check, credential_bytes, credentials, server_settings, session_cookies
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
)
QUICK = Plan("quick", False, 1, 1, 4, 1_000, 5, Stores("authdemo_bench_quick", 10), ROOT / "artifacts" / "bench-quick",
             {"dpop": {"repeats": 3, "calls": 20}, "dbsc": {"rounds": 2, "calls": 20},
              "lookup": {"repeats": 3, "calls": 10_000}})  # fmt: skip


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
            seconds = plan.seconds if number else min(plan.seconds, 1)
            results[scheme.key] = measure(
                targets[scheme.key], plan.stores, seconds=seconds, connections=plan.connections
            )
            sizes[scheme.key] = credential_bytes(targets[scheme.key])
        if number:
            rounds.append(results)
        print(f"  round {number}/{plan.rounds} done", flush=True)
    return rounds, sizes


def phase(plan: Plan, servers: dict[str, Server], schemes) -> dict:
    rounds, sizes = run_rounds(plan, servers, schemes)
    summary = summarize(rounds)
    for key, row in summary.items():
        row["credential_bytes"] = sizes[key]
    return summary


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
    servers = {
        name: Server(name, {**env, **extra}, logs / f"{name}.log", app=COUNTED_APP, worker_class=BENCH_WORKER_CLASS)
        for name, extra in server_settings().items()
    }
    servers.update(peers.peer_servers(env, plan.stores, logs))
    try:
        start_all(list(servers.values()))
        results = collect(plan, servers, env, logs)
    finally:
        for server in servers.values():
            server.stop()
        plan.stores.redis().flushdb()  # a million keys in a shared Redis help no one after the run
    path = write(results, out_dir)
    print(f"bench: wrote {path} and .md/.svg beside it (server logs in {logs})")
    if steady(results) is False:
        print(f"bench: NOT A STEADY RUN (ratios moved by up to {spread(results):.2f}x between rounds); measure again")
    return path


def collect(plan: Plan, servers: dict[str, Server], env: dict[str, str], logs: Path) -> dict:
    """Run the phases of the plan and gather their results with the context of the run."""
    print("bench: empty stores, authdemo and its peers", flush=True)
    empty = phase(plan, servers, ALL_SCHEMES)
    operations = {"empty": scale.time_operations(servers["jwt-cutoff"], samples=7 if plan.warmup else 1)}
    full = None
    if plan.scale_rows:
        print(f"bench: filling the stores with {plan.scale_rows:,} sessions and tokens", flush=True)
        fill_seconds = scale.fill(plan.stores, rows=plan.scale_rows)
        full = phase(plan, servers, SCHEMES)  # the peers' stores are not filled
        operations[f"{plan.scale_rows:,}-row"] = scale.time_operations(
            servers["jwt-cutoff"], samples=7 if plan.warmup else 1
        )
    pair = scale.two_processes(
        env, logs, plan.stores, seconds=plan.seconds, connections=plan.connections, throughput=plan.warmup,
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
    return {
        "mode": plan.mode,
        "measured_at": environment.now(),
        "machine": environment.machine(),
        "settings": f"1 gunicorn {BENCH_WORKER_CLASS} worker per process, no keep-alive (the Express peer: one node "
        f"process, keep-alive); "
        f"wrk -t1 -c{plan.connections}, "
        f"{plan.seconds:g} s per run, {plan.rounds} interleaved rounds (medians)",
        "rounds": plan.rounds,
        "empty": empty,
        "full": full,
        "scale_rows": plan.scale_rows,
        "fill_seconds": fill_seconds if full else None,
        "operations": operations,
        "scalability": pair,
        "verifier": service,
        "in_process": theft,
        "targets": check_targets(empty, full, pair, rows=plan.scale_rows),
    }


if __name__ == "__main__":
    main()
