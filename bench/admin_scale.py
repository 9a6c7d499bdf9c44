"""Time the admin lists and the sessions page with 1,000,000 registry rows and tokens.

    .venv/bin/python -m bench.admin_scale [--rows 1000000]

Builds a PostgreSQL database of its own (authdemo_scale), fills it with generate_series,
serves it with gunicorn (debug off) and times each page over HTTP (median of 7). It also
times `prune_auth` on the expired tenth. Prints a Markdown table; writes
bench/results/admin_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests

from bench.stack import Server

ROOT = Path(__file__).resolve().parent.parent
DB = "authdemo_scale"
ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
URL = f"postgres://postgres@127.0.0.1:5432/{DB}"
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
FILL = """
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined, display_name)
SELECT %(hash)s, false, 'user' || n, '', '', '', false, true, now(), 'User ' || n FROM generate_series(1, 10000) n;
INSERT INTO accounts_usersession (id, user_id, session_key, engine, created_at, last_seen, expires_at, ip, user_agent)
SELECT gen_random_uuid(), 1 + n %% 10000, md5(n::text), (ARRAY['db','redis','cached_db'])[1 + n %% 3],
       now() - interval '2 days', now() - (n %% 5000) * interval '1 minute',
       now() + CASE WHEN n %% 10 = 0 THEN interval '-1 day' ELSE interval '6 days' END, '10.0.0.1',
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36'
FROM generate_series(1, %(rows)s) n;
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


def run(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def build_database(rows: int, env: dict) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")
    run("migrate", "--no-input", env=env)
    run("seed_demo", "--force", env=env)
    code = "from django.contrib.auth.hashers import make_password; print(make_password('scale-pass-123'))"
    hashed = (
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    started = time.perf_counter()
    with psycopg.connect(URL, autocommit=True) as conn:
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"hash": hashed, "rows": rows})
    print(f"filled {rows:,} sessions and tokens in {time.perf_counter() - started:.1f} s")


def login(base: str, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/", timeout=30)
    browser.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    return browser


def time_page(browser: requests.Session, url: str) -> float:
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        response = browser.get(url, timeout=60)
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(samples) * 1000


def measure(env: dict) -> dict[str, float]:
    server = Server("admin-scale", env, Path("/tmp/authdemo-admin-scale.log"), app="authdemo.wsgi").start()
    try:
        server.wait_ready()
        base = server.url
        admin, user = login(base, "admin", "admin-demo-pass"), login(base, "user42", "scale-pass-123")
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
    env = {
        **os.environ, "DATABASE_URL": URL, "DJANGO_DEBUG": "false", "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false", "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48), "AUTH_THROTTLE_RATE": "10000/minute",
        "EMAIL_URL": "dummymail://",
    }  # fmt: skip
    run("collectstatic", "--no-input", env=env)
    if args.reuse:
        run("migrate", "--no-input", env=env)
    else:
        build_database(args.rows, env)
    figures = measure(env)
    if not args.reuse:
        started = time.perf_counter()
        run("prune_auth", env=env)
        figures["prune_auth (10% expired)"] = (time.perf_counter() - started) * 1000
    print(f"\n| page ({args.rows:,} sessions, {args.rows:,} tokens) | median ms |\n|---|---:|")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.1f} |")
    out = ROOT / "bench" / "results" / "admin_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": args.rows, "median_ms": figures}, indent=2))


if __name__ == "__main__":
    main()
