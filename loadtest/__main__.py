"""A bounded load run on 127.0.0.1: `python -m loadtest [--quick | --ui]` (`make loadtest`, `-quick`, `-ui`).

Locust's virtual users (loadtest/locustfile.py) mix page logins, page views, token
obtains, API calls (Bearer and session) and refreshes against a production-style granian
server on a database and Redis db of their own. Afterwards the run checks: no unexpected
status or transport error, every answer names its own user, the blacklist grew by
exactly the rotations, no token reuse or duplicate jti, and no error in the server log.
It prints p50/p99 per request type and exits 1 on any violation. It stops by itself: the
ramp-up (every user's first logins, at most RAMP_LIMIT s), `--seconds` of mixed load, then
at most STOP_TIMEOUT s for the last requests. With `--ui`, Locust's web UI drives the load
instead: a person starts and stops it there, and Ctrl-C ends the run with the same checks.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from accounts.vocabulary import REDIS, REVOCABLE_ENGINE_KEYS
from harness.stack import ROOT, Server, Stores, base_env, collect_static_if_stale, manage, recreate_database
from loadtest import report

FULL = {"users": 50, "seconds": 60.0}
QUICK = {"users": 10, "seconds": 10.0}
RAMP_LIMIT = 120.0  # seconds for every user's first page login and token obtain (Argon2 each)
SPAWN_RATE = 4.0  # users started per second: Argon2 (100 MiB, 8 lanes) per login
STOP_TIMEOUT = 60  # seconds the last requests may take (loadtest.locustfile.TIMEOUT)
# Every virtual user comes from 127.0.0.1: per-address throttling would turn this into a
# throttling test. Lockout (django-axes) stays on; it only counts failed logins.
UNTHROTTLED = "1000000/minute"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 users for 10 s (CI)")
    parser.add_argument(
        "--ui", action="store_true", help="open Locust's web UI on 127.0.0.1 instead of running headless"
    )
    parser.add_argument("--web-port", type=int, default=8089, help="port of the web UI (--ui)")
    parser.add_argument("--users", type=int, help="concurrent virtual users (default 50; quick 10)")
    parser.add_argument("--seconds", type=float, help="length of the mixed load (default 60; quick 10)")
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between a user's requests (s)")
    parser.add_argument("--sessions", choices=REVOCABLE_ENGINE_KEYS, default=REDIS, help="session engine")
    parser.add_argument("--database", default="authdemo_load", help="PostgreSQL database (authdemo_load*)")
    parser.add_argument("--redis-db", type=int, default=8, help="Redis database number")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    args.users = args.users or plan["users"]
    args.seconds = args.seconds or plan["seconds"]
    if not 1 <= args.users <= 9999 or args.seconds <= 0:
        parser.error("--users must be 1..9999 and --seconds positive")
    return args


def prepare(stores: Stores, args: argparse.Namespace, password: str) -> dict[str, str]:
    """Recreate the load stores (authdemo_load* only), migrate, create the virtual users; return the site's env."""
    recreate_database(stores, prefix="authdemo_load")
    env = {**base_env(stores), "SESSION_BACKEND": args.sessions, "AUTH_THROTTLE_RATE": UNTHROTTLED}
    collect_static_if_stale(env)
    manage(env, "migrate", "--no-input")
    subprocess.run(  # noqa: S603  (our own fixed command, no shell)
        [sys.executable, "-m", "loadtest.seed", str(args.users)],
        cwd=ROOT,
        env={**env, "LOADTEST_PASSWORD": password},
        check=True,
        capture_output=True,
    )
    return env


def locust_command(args: argparse.Namespace, host: str, workdir: Path) -> list[str]:
    """Locust on loadtest/locustfile.py: headless and bounded, or its web UI for a person."""
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"), "--host", host,
        "--users", str(args.users), "--spawn-rate", str(SPAWN_RATE), "--stop-timeout", str(STOP_TIMEOUT),
        "--think", str(args.think), "--ramp-limit", str(RAMP_LIMIT), "--results", str(workdir / "results.json"),
        "--csv", str(workdir / "locust"), "--loglevel", "WARNING",
    ]  # fmt: skip
    if args.ui:
        return [*command, "--web-host", "127.0.0.1", "--web-port", str(args.web_port)]
    bound = args.users / SPAWN_RATE + RAMP_LIMIT + args.seconds + STOP_TIMEOUT  # the mix ends itself well before
    return [*command, "--headless", "--only-summary", "--mix-seconds", str(args.seconds), "--run-time", f"{bound:.0f}s"]


def drive(args: argparse.Namespace, host: str, workdir: Path, password: str) -> dict:
    """Run Locust to its end; return what its users wrote (counts, violations, p50/p99)."""
    results = workdir / "results.json"
    results.unlink(missing_ok=True)
    if args.ui:
        print(
            f"loadtest: Locust's web UI is at http://127.0.0.1:{args.web_port}/ ; Ctrl-C here ends the run", flush=True
        )
    process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
        locust_command(args, host, workdir),
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LOADTEST_PASSWORD": password},
    )
    try:
        process.wait()
    except KeyboardInterrupt:  # --ui: the same Ctrl-C reached Locust, which quits and writes its results
        process.wait()
    if not results.exists():
        return {"violations": [f"locust exited {process.returncode} without results"], "counts": {}, "latency": []}
    return json.loads(results.read_text())


def run(args: argparse.Namespace, workdir: Path) -> int:
    stores = Stores(args.database, args.redis_db)
    password = secrets.token_urlsafe(18)
    print(f"loadtest: preparing {stores.database} and redis db {stores.redis_db}", flush=True)
    env = prepare(stores, args, password)
    server = Server(
        "load", env, workdir / "server.log", app="authdemo.wsgi", workers=2, threads=8, ready_path="/readyz"
    )
    server.start().wait_ready()
    try:
        print(f"loadtest: {args.users} users for {args.seconds:.0f} s against {server.url}", flush=True)
        before = report.table_counts(stores.database_url)
        results = drive(args, server.url, workdir, password)
    finally:
        server.stop()
    after = report.table_counts(stores.database_url)
    violations = [*results["violations"], *report.database_violations(before, after, results["counts"])]
    violations += [f"server log ({server.log}): {line}" for line in server.log_problems()]
    print(report.summary(users=args.users, seconds=args.seconds, results=results, violations=violations))
    return 1 if violations else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workdir = ROOT / "artifacts" / ("loadtest-quick" if args.quick else "loadtest")  # git-ignored
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "server.log").unlink(missing_ok=True)
    return run(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
