"""Drive one URL with wrk and account for what the server spent on it."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

from bench.counting import COUNTERS_PATH
from harness.stack import GRANIAN, GUNICORN_GTHREAD, GUNICORN_SYNC, Server, Stores, ensure_wrk

# The benchmark's server, authdemo's and the bare Django peer's: granian, as `make serve` runs the
# site (one worker process here, its app on BENCH_THREADS blocking threads, keep-alive), so the
# figures are the served site's. The gunicorn kinds it was chosen over are measured beside it in the
# same rounds (bench.schemes.ON_EVERY_SERVER): gunicorn's sync worker answers one request at a time
# and opens a connection per request; gthread keeps connections alive, its 4 threads handing the GIL.
BENCH_SERVER = GRANIAN
OTHER_SERVERS = (GUNICORN_SYNC, GUNICORN_GTHREAD)
BENCH_THREADS = 1
GTHREAD_THREADS = 4
COUNTED_APP = "bench.wsgi:application"  # the site with the benchmark's counters (bench.counting)

SUMMARY_LUA = Path(__file__).with_name("summary.lua")
REFRESH_CHAIN_LUA = Path(__file__).with_name("refresh_chain.lua")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def bench_server(name: str, env: dict[str, str], log: Path, *, kind: str = BENCH_SERVER, workers: int = 1,
                 app: str = COUNTED_APP, ready_path: str = "/healthz") -> Server:  # fmt: skip
    """A site (or bare Django) process as the benchmark measures it: `kind`'s server, `workers`
    processes, BENCH_THREADS threads each under granian (gthread keeps the harness's 4)."""
    threads = BENCH_THREADS if kind == GRANIAN else GTHREAD_THREADS
    return Server(name, env, log, app=app, kind=kind, workers=workers, threads=threads, ready_path=ready_path)


def counters(server: Server) -> dict[str, int]:
    """What a server running COUNTED_APP has counted so far (requests, SQL, Redis, connections)."""
    return requests.get(f"{server.url}{COUNTERS_PATH}", timeout=5).json()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each live process, from /proc/<pid>/stat."""
    times = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return times


def postgres_pids(stores: Stores) -> list[int]:
    """Backends connected to the bench database (the app's persistent connections)."""
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [stores.database]
        ).fetchall()
    return [row[0] for row in rows]


def redis_cpu(stores: Stores) -> float:
    info = stores.redis().info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass(frozen=True)
class Target:
    """What one scheme sends: a server, a path and the credential headers."""

    server: Server
    path: str
    headers: dict[str, str]
    credential: str = ""  # the session cookie's value or the token, for its size


def run_wrk(target: Target, *, seconds: float, connections: int, script: Path = SUMMARY_LUA,
            env: dict[str, str] | None = None) -> dict:  # fmt: skip
    """wrk's summary (bench/summary.lua, which `script` ends with); wrk takes whole seconds, at
    least one. `env` adds to wrk's environment (what the script reads)."""
    command = [
        ensure_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
        "-s", str(script), target.server.url + target.path,
    ]  # fmt: skip
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    environment = {**os.environ, **(env or {})}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    return json.loads(line.removeprefix("BENCH_JSON "))


def measure(target: Target, stores: Stores, *, seconds: float, connections: int) -> dict:
    """Run wrk once; return throughput, latency, CPU and store calls per request."""
    server = target.server
    app_pids, db_pids = server.worker_pids(), postgres_pids(stores)
    before = counters(server), cpu_seconds(app_pids), cpu_seconds(db_pids), redis_cpu(stores)
    result = answered(target, run_wrk(target, seconds=seconds, connections=connections))
    after = counters(server), cpu_seconds(app_pids), cpu_seconds(postgres_pids(stores)), redis_cpu(stores)
    served = after[0]["requests"] - before[0]["requests"]
    if not served:
        raise RuntimeError(f"{server.name}{target.path}: no request counted")
    per = 1e6 / served
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "app_cpu_us": _delta(before[1], after[1]) * per,
        "postgres_cpu_us": _delta(before[2], after[2]) * per,
        "redis_cpu_us": (after[3] - before[3]) * per,
        "sql_per_request": (after[0]["sql"] - before[0]["sql"]) / served,
        "redis_per_request": (after[0]["redis"] - before[0]["redis"]) / served,
        "requests": served,
    }


def rate(target: Target, *, seconds: float, connections: int) -> float:
    """Run wrk once; return req/s alone. For a server of several processes, whose counters
    (bench.counting) each process keeps for itself."""
    result = answered(target, run_wrk(target, seconds=seconds, connections=connections))
    return result["requests"] / (result["duration_us"] / 1e6)


def answered(target: Target, result: dict) -> dict:
    """wrk's result, or an error when any request failed: a figure of errors measures nothing."""
    if result["non_2xx"] or result["socket_errors"] or not result["requests"]:
        name = f"{target.server.name}{target.path}"
        raise RuntimeError(f"{name}: {result['non_2xx']} non-2xx, {result['socket_errors']} errors")
    return result


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())
