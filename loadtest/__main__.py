"""A bounded load run on 127.0.0.1: `python -m loadtest [--quick]` (`make loadtest`, `make loadtest-quick`).

Virtual users mix page logins, page views, token obtains, API calls (Bearer and session)
and refreshes against a production-style gunicorn server on a database and Redis db of
their own. Afterwards the run checks: no unexpected status or transport error, every
answer names its own user, the blacklist grew by exactly the rotations, no token reuse
or duplicate jti, and no error in the server log. It prints p50/p99 per request type and
exits 1 on any violation. It stops by itself: `--seconds` of load, then at most a few
seconds more for the last requests.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from pathlib import Path

from accounts.vocabulary import REDIS, REVOCABLE_ENGINE_KEYS
from loadtest import report, stack
from loadtest.seed import username
from loadtest.users import TIMEOUT, Phase, Recorder, VirtualUser

FULL = {"users": 50, "seconds": 60.0}
QUICK = {"users": 10, "seconds": 10.0}
RAMP_LIMIT = 120.0  # seconds for every user's first page login and token obtain (Argon2 each)
STAGGER = 0.25  # seconds between users' first logins: Argon2 (100 MiB, 8 lanes) per login


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 users for 10 s (CI)")
    parser.add_argument("--users", type=int, help="concurrent virtual users (default 50; quick 10)")
    parser.add_argument("--seconds", type=float, help="length of the load (default 60; quick 10)")
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


def drive(base: str, args: argparse.Namespace, password: str, recorder: Recorder) -> tuple[Phase, list[str]]:
    """Run every virtual user in its own thread, first logins STAGGER s apart; join them all."""
    phase = Phase(users=args.users, seconds=args.seconds, ramp_limit=RAMP_LIMIT)
    now, stagger = time.monotonic(), STAGGER
    threads = []
    for index in range(args.users):
        user = VirtualUser(base=base, name=username(index), password=password, recorder=recorder, seed=index)
        kwargs = {"phase": phase, "start_at": now + index * stagger, "think": args.think}
        threads.append(threading.Thread(target=user.run, kwargs=kwargs, name=user.name, daemon=True))
    for thread in threads:
        thread.start()
    bound = now + args.users * STAGGER + RAMP_LIMIT + args.seconds + 2 * TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, bound - time.monotonic()))
    return phase, [f"virtual user {thread.name} did not stop" for thread in threads if thread.is_alive()]


def run(args: argparse.Namespace, workdir: Path) -> int:
    stores = stack.Stores(args.database, args.redis_db)
    password = secrets.token_urlsafe(18)
    env = stack.site_env(stores, args.sessions)
    print(f"loadtest: preparing {stores.database} and redis db {stores.redis_db}", flush=True)
    stack.recreate(stores)
    stack.prepare(env, users=args.users, password=password)
    server = stack.load_server(env, workdir / "server.log")
    try:
        print(f"loadtest: {args.users} users for {args.seconds:.0f} s against {server.url}", flush=True)
        before = report.table_counts(stores.database_url)
        recorder = Recorder()
        started = time.monotonic()
        phase, stuck = drive(server.url, args, password, recorder)
        ramp = (phase.started or time.monotonic()) - started
    finally:
        server.stop()
    after = report.table_counts(stores.database_url)
    violations = [*recorder.violations, *stuck, *report.database_violations(before, after, recorder)]
    violations += [f"server log ({server.log}): {line}" for line in server.log_problems()]
    print(report.summary(users=args.users, ramp=ramp, seconds=args.seconds, recorder=recorder, violations=violations))
    return 1 if violations else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workdir = stack.ROOT / "artifacts" / ("loadtest-quick" if args.quick else "loadtest")  # git-ignored
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "server.log").unlink(missing_ok=True)
    return run(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
