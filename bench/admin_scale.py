"""Time the admin lists and the sessions page with 1,000,000 registry rows and tokens.

    .venv/bin/python -m bench.admin_scale [--rows 1000000] [--reuse]

Builds a PostgreSQL database of its own (authdemo_bench_admin, Redis db 11) through
harness.stack, fills it with generate_series, serves it as `make serve` does (production settings,
debug off) and times each page over HTTP (median of 7). It also times `prune_auth` on the
expired tenth. Prints a Markdown table; writes bench/results/admin_scale.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import psycopg
import requests

from accounts.vocabulary import CACHED_DB, DB, REVOCABLE_ENGINE_KEYS
from bench.scale import copy_filler_keys
from harness.logins import log_in
from harness.stack import (
    ROOT,
    Server,
    Stores,
    base_env,
    collect_static_if_stale,
    manage,
    prepare_site,
    recreate_database,
)

STORES = Stores("authdemo_bench_admin", 11)
PAGES = {
    "sessions admin": "/admin/accounts/usersession/",
    "sessions admin, search user": "/admin/accounts/usersession/?q=user42",
    "sessions admin, engine + activity": "/admin/accounts/usersession/?engine=redis&activity=day",
    "outstanding tokens admin": "/admin/token_blacklist/outstandingtoken/",
    "API logins admin": "/admin/accounts/tokenfamily/",
    "audit log admin": "/admin/accounts/auditevent/",
    "user change page (sessions inline)": "/admin/accounts/user/42/change/",
    "your sessions page (user42)": "/accounts/sessions/",
}
# Filler users get skeletons of their own: '#' never appears in a real one (usernames are
# letters, digits and @.+-_), so no filler can clash with, or shadow, a real user.
FILL = """
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined, display_name, username_skeleton, username_folded_skeleton)
SELECT %(hash)s, false, 'user' || n, '', '', '', false, true, now(), 'User ' || n, '#user' || n, '#user' || n
FROM generate_series(1, 10000) n;
INSERT INTO accounts_usersession (id, user_id, session_key, engine, created_at, last_seen, expires_at, ip, user_agent)
SELECT gen_random_uuid(), 1 + n %% 10000, stored, (%(engines)s::text[])[1 + n %% %(engine_count)s],
       now() - interval '2 days', now() - (n %% 5000) * interval '1 minute',
       now() + CASE WHEN n %% 10 = 0 THEN interval '-1 day' ELSE interval '6 days' END, '10.0.0.1',
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36'
FROM filler_keys;
INSERT INTO accounts_hashedsession (session_key, session_data, expire_date)
SELECT session_key, repeat(md5(session_key), 6), expires_at FROM accounts_usersession
WHERE engine = ANY(%(database_engines)s::text[]);
INSERT INTO token_blacklist_outstandingtoken (token, created_at, expires_at, user_id, jti)
SELECT 'x', now(), now() + CASE WHEN n %% 10 = 0 THEN interval '-1 day' ELSE interval '1 day' END,
       1 + n %% 10000, md5('t' || n)
FROM generate_series(1, %(rows)s) n;
INSERT INTO accounts_auditevent (kind, at, user_id, username, ip, user_agent, detail)
SELECT 'login', now() - (n %% 1000) * interval '1 hour', 1 + n %% 10000, 'user' || (1 + n %% 10000),
       '10.0.0.1', '', '{}'
FROM generate_series(1, %(rows)s / 10) n;
ANALYZE;
"""


def password_hash(env: dict[str, str], password: str) -> str:
    """Hash once with the site's own hasher; every filled user shares it."""
    code = f"from django.contrib.auth.hashers import make_password; print(make_password({password!r}))"
    command = [sys.executable, "manage.py", "shell", "-c", code]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout.strip().splitlines()[-1]


def fill(stores: Stores, *, rows: int, hashed_password: str) -> None:
    """Store 10,000 users, `rows` registry rows (their keys stored_key()s, as the engines keep
    them) with a database session (accounts_hashedsession, opaque data) behind each one of a
    database engine, `rows` outstanding tokens and `rows` / 10 audit events."""
    engines = list(REVOCABLE_ENGINE_KEYS)
    database_engines = [engine for engine in engines if engine in (DB, CACHED_DB)]
    parameters = {"hash": hashed_password, "rows": rows, "engines": engines, "engine_count": len(engines)}
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        copy_filler_keys(conn, rows=rows)
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(statement, parameters | {"database_engines": database_engines})


def build_database(rows: int, env: dict[str, str]) -> None:
    """Recreate the stores (authdemo_bench* only), migrate, seed the demo users, then fill."""
    recreate_database(STORES)
    prepare_site(env)
    hashed = password_hash(env, "scale-pass-123")
    started = time.perf_counter()
    fill(STORES, rows=rows, hashed_password=hashed)
    print(f"filled {rows:,} sessions and tokens in {time.perf_counter() - started:.1f} s")


def time_page(browser: requests.Session, url: str) -> float:
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        response = browser.get(url, timeout=60)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(samples) * 1000


def measure(env: dict[str, str]) -> dict[str, float]:
    log = ROOT / "artifacts" / "admin-scale" / "server.log"  # git-ignored
    log.parent.mkdir(parents=True, exist_ok=True)
    server = Server("admin-scale", env, log, app="authdemo.wsgi").start()
    try:
        server.wait_ready()
        base = server.url
        admin, user = log_in(base, "admin", "admin-demo-pass"), log_in(base, "user42", "scale-pass-123")
        return {
            name: time_page(user if name.startswith("your") else admin, base + path) for name, path in PAGES.items()
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="Measure the database a previous run built.")
    args = parser.parse_args()
    env = base_env(STORES)  # production settings, unthrottled, no mail
    if args.reuse:
        collect_static_if_stale(env)
        manage(env, "migrate", "--no-input")
    else:
        build_database(args.rows, env)
    figures = measure(env)
    if not args.reuse:
        started = time.perf_counter()
        manage(env, "prune_auth")
        figures["prune_auth (10% expired)"] = (time.perf_counter() - started) * 1000
    print(f"\n| page ({args.rows:,} sessions, {args.rows:,} tokens) | median ms |\n|---|---:|")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.1f} |")
    out = ROOT / "bench" / "results" / "admin_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "median_ms": figures}, indent=2))


if __name__ == "__main__":
    main()
