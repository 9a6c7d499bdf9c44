"""Scale: fill the stores in bulk, time login/refresh/revocation, run two app processes."""

from __future__ import annotations

import math
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import median

import psycopg
import requests

from accounts.session_engines.keys import stored_key
from authdemo.measured import BASELINE, JWT_CUTOFF, SESSION_REDIS
from bench.load import (
    REFRESH_CHAIN_LUA,
    Target,
    answered,
    bench_server,
    counters,
    cpu_seconds,
    measure,
    postgres_pids,
    run_wrk,
)
from bench.schemes import PASSWORD, USERNAME, access_token, session_cookie
from harness.stack import Server, Stores, start_all

LOAD_USERS = 10_000
REDIS_BATCH = 10_000
# django-redis's KEY_PREFIX:VERSION: and the cache engines' prefix; the engines append stored_key(key).
SESSION_CACHE_PREFIX = "authdemo:1:django.contrib.sessions.cache"
COPY_BATCH = 100_000
REFRESH_PATH = "/api/token/refresh/"
KEEP_ALIVE_REFRESH = "token refresh, one kept-alive connection (wrk)"

# Filler users get skeletons of their own: '#' never appears in a real one (usernames are
# letters, digits and @.+-_), so no filler can clash with, or shadow, a real user.
FILL_SQL = """
INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined, display_name, username_skeleton, username_folded_skeleton)
SELECT '!', false, 'load' || g, '', '', '', false, true, now(), '', '#load' || g, '#load' || g
FROM generate_series(1, {users}) g;
CREATE TEMP TABLE load_users AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts_user
    WHERE username LIKE 'load%';
INSERT INTO accounts_hashedsession (session_key, session_data, expire_date)
SELECT k.stored, repeat(md5('d' || k.n), 6), now() + interval '7 days' FROM filler_keys k;
INSERT INTO accounts_usersession (id, session_key, engine, created_at, last_seen, expires_at, user_agent, user_id)
SELECT gen_random_uuid(), k.stored, 'db', now(), now(), now() + interval '7 days', 'bench', u.id
FROM filler_keys k JOIN load_users u ON u.n = k.n % {users};
INSERT INTO token_blacklist_outstandingtoken (jti, token, created_at, expires_at, user_id)
SELECT md5('t' || g), repeat(md5('k' || g), 10), now(), now() + interval '1 day', u.id
FROM generate_series(1, {rows}) g JOIN load_users u ON u.n = g % {users};
INSERT INTO accounts_tokenfamily (id, current_jti, previous_jti, transport, created_at, last_used_at, expires_at,
                                  revoked_reason, user_agent, user_id)
SELECT gen_random_uuid(), jti, '', 'bearer', now(), now(), expires_at, '', 'bench', user_id
FROM token_blacklist_outstandingtoken WHERE user_id IN (SELECT id FROM load_users);
INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
SELECT id, now() FROM token_blacklist_outstandingtoken WHERE id % 10 = 0 AND user_id IN (SELECT id FROM load_users);
VACUUM (ANALYZE);
"""
# pgbench vacuums before it measures (its -n skips that): VACUUM sets the rows' hint bits and
# the visibility map, so neither the first reads nor autovacuum write them during the runs. The
# CHECKPOINT is ours: it writes the fill's pages out now, not while the filled phase is timed.
SETTLE_SQL = "CHECKPOINT"


def filler_key(n: int) -> str:
    """The session key (as a cookie would carry it) of the n-th filler session: 32 of the
    characters Django makes keys of, like every real key."""
    return f"fill{n:028d}"


def copy_filler_keys(conn: psycopg.Connection, *, rows: int) -> None:
    """Create the temporary table filler_keys (n, stored): the stored key of filler sessions 1..rows.

    The stores keep stored_key(key), never the key: the digests are made here, by the engines'
    own function, and the fill's SQL joins on them.
    """
    conn.execute("CREATE TEMP TABLE filler_keys (n bigint PRIMARY KEY, stored text NOT NULL)")
    with conn.cursor().copy("COPY filler_keys (n, stored) FROM STDIN") as copy:
        for start in range(1, rows + 1, COPY_BATCH):
            numbers = range(start, min(start + COPY_BATCH, rows + 1))
            copy.write("".join(f"{n}\t{stored_key(filler_key(n))}\n" for n in numbers))


def fill(stores: Stores, *, rows: int) -> float:
    """Store `rows` sessions in each store the engines read (accounts_hashedsession with its
    registry rows, and Redis) and `rows` outstanding tokens; return seconds taken.

    The database rows' data is opaque (the fill cannot sign with the servers' secret): the
    engine finds each row by its key and decodes nothing. The Redis sessions hold a filler
    user's login as the Redis engine writes it (pickled, as django-redis stores values).
    """
    started = time.perf_counter()
    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        copy_filler_keys(conn, rows=rows)
        for statement in FILL_SQL.format(rows=rows, users=LOAD_USERS).split(";\n"):
            if statement.strip():
                conn.execute(statement)
        user_ids = [row[0] for row in conn.execute("SELECT id FROM load_users ORDER BY n")]
        try:
            conn.execute(SETTLE_SQL)
        except psycopg.errors.InsufficientPrivilege:  # PostgreSQL 15: superuser or pg_checkpoint
            print("bench: no CHECKPOINT after the fill (the role may not); the writes settle during the runs")
    _fill_redis(stores, rows=rows, user_ids=user_ids)
    return time.perf_counter() - started


def _fill_redis(stores: Stores, *, rows: int, user_ids: list[int]) -> None:
    """SET each filler session under the key the Redis engine reads (HashedCacheKeys.cache_key_of)."""
    client = stores.redis()
    backend = "django.contrib.auth.backends.ModelBackend"
    for start in range(1, rows + 1, REDIS_BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, min(start + REDIS_BATCH, rows + 1)):
            login = {"_auth_user_id": str(user_ids[n % len(user_ids)]), "_auth_user_backend": backend}
            value = pickle.dumps(login, pickle.DEFAULT_PROTOCOL)  # django-redis's PickleSerializer
            pipe.set(SESSION_CACHE_PREFIX + stored_key(filler_key(n)), value, ex=7 * 86400)
        pipe.execute()


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def time_operations(server: Server, *, samples: int) -> dict[str, float]:
    """Median milliseconds of a session login, a token login, a refresh, and revoking everything,
    each from a Python client (requests); and of a refresh from wrk on one kept-alive connection
    (`refresh_chain`), which leaves out the client's own cost."""
    times: dict[str, list[float]] = {
        "session login": [],
        "token login": [],
        "token refresh": [],
        "revoke everything": [],
    }
    for _ in range(samples):
        times["session login"].append(_timed(lambda: session_cookie(server)))
        times["token login"].append(_timed(lambda: access_token(server)))
        refresh = _api_login(server)
        times["token refresh"].append(_timed(lambda r=refresh: _refresh(server, r)))
        times["revoke everything"].append(_revoke_everything(server))
    chain = refresh_chain(server, seconds=2 if samples > 1 else 1)
    return {**{name: round(median(values), 2) for name, values in times.items()}, KEEP_ALIVE_REFRESH: chain}


def refresh_chain(server: Server, *, seconds: float) -> float:
    """Median milliseconds of a refresh from one client on one kept-alive connection, refreshing
    again and again for `seconds` with the token the last answer returned (wrk with
    bench/refresh_chain.lua): the server's refresh as the other schemes are measured, without a
    Python client's own cost per request (requests took 3 ms for a /healthz the server answered in
    under 0.5 where this was written). Any refusal fails the run, and so does a
    chain that did not rotate: sending the first token again must be refused as a replay (a chain
    that kept sending it would be answered from the reuse interval instead, and time that)."""
    target, first = Target(server, REFRESH_PATH, {}), _api_login(server)
    chain = {"REFRESH_TOKEN": first}
    result = answered(target, run_wrk(target, seconds=seconds, connections=1, script=REFRESH_CHAIN_LUA, env=chain))
    if requests.post(f"{server.url}{REFRESH_PATH}", json={"refresh": first}, timeout=30).status_code != 401:
        raise RuntimeError("the refresh chain did not rotate: each request must carry the token the last one got")
    return round(result["p50_us"] / 1000, 2)


def _refresh(server: Server, refresh: str, client=requests) -> str:
    """One refresh; the new refresh token. A refusal raises: a timed error measures nothing."""
    response = client.post(f"{server.url}{REFRESH_PATH}", json={"refresh": refresh}, timeout=30)
    response.raise_for_status()
    return response.json()["refresh"]


def refresh_load(server: Server, stores: Stores, *, seconds: float, clients: int) -> dict[str, float]:
    """Token refreshes under load: `clients` clients refresh at once for `seconds`, each rotating
    an API login of its own again and again (every request carries the refresh token the last
    one returned, as a real client's does; any refusal fails the run).

    Besides refreshes per second, the CPU the app's processes spent (user + system, counted as
    bench.load.measure counts it) gives refreshes per second per core: how many one core of app
    CPU serves, whatever share of the machine the clients took. PostgreSQL's CPU, SQL statements
    and Redis commands are per refresh.
    """
    logins = [_api_login(server) for _ in range(clients)]
    app_pids, db_pids = server.worker_pids(), postgres_pids(stores)
    before = counters(server), cpu_seconds(app_pids), cpu_seconds(db_pids)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:  # .result() raises what a client raised
        runs = [pool.submit(_keep_refreshing, server, login, started + seconds) for login in logins]
        latencies = sorted(ms for run in runs for ms in run.result())
    elapsed = time.perf_counter() - started
    after = counters(server), cpu_seconds(app_pids), cpu_seconds(postgres_pids(stores))
    count, app_cpu = len(latencies), _cpu_delta(before[1], after[1])
    return {
        "clients": clients,
        "refreshes_per_s": round(count / elapsed, 1),
        "app_cpu_us": round(app_cpu / count * 1e6),
        "refreshes_per_core_s": round(count / app_cpu, 1) if app_cpu else 0.0,
        "postgres_cpu_us": round(_cpu_delta(before[2], after[2]) / count * 1e6),
        "p50_ms": round(_percentile(latencies, 50), 2),
        "p99_ms": round(_percentile(latencies, 99), 2),
        "sql_per_refresh": round((after[0]["sql"] - before[0]["sql"]) / count, 2),
        "redis_per_refresh": round((after[0]["redis"] - before[0]["redis"]) / count, 2),
    }


def _api_login(server: Server) -> str:
    creds = {"username": USERNAME, "password": PASSWORD}
    response = requests.post(f"{server.url}/api/token/", json=creds, timeout=30)
    response.raise_for_status()
    return response.json()["refresh"]


def _keep_refreshing(server: Server, refresh: str, deadline: float) -> list[float]:
    """Refresh until `deadline`, each time with the token the last refresh returned; return the ms of each."""
    latencies: list[float] = []
    with requests.Session() as client:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            refresh = _refresh(server, refresh, client)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def _revoke_everything(server: Server) -> float:
    """Time POST /accounts/sessions/everywhere/ (revoke_everything) from a logged-in session."""
    return _timed(_revoker(server)[0])


def _revoker(server: Server):
    """Log in and open the sessions page; return the "log out everywhere" POST, ready to
    send, and the session's cookie header (that session is among those it ends)."""
    client = requests.Session()
    name, value = session_cookie(server)
    client.cookies.set(name, value)
    client.get(f"{server.url}/accounts/sessions/", timeout=10).raise_for_status()  # sets the CSRF cookie
    form = {"csrfmiddlewaretoken": client.cookies["csrftoken"]}
    url = f"{server.url}/accounts/sessions/everywhere/"
    post = lambda: client.post(url, data=form, timeout=30, allow_redirects=False).raise_for_status()  # noqa: E731
    return post, {"Cookie": f"{name}={value}"}


def two_processes(
    env: dict[str, str],
    logs: Path,
    stores: Stores,
    *,
    seconds: float,
    connections: int,
    throughput: bool = True,
    revocations: int = 0,
) -> dict:
    """Two app processes on the same PostgreSQL and Redis: shared logins, shared revocation,
    how long a revocation takes to reach the other process, throughput."""
    shared = {**env, "SESSION_BACKEND": "redis", "JWT_REVOCATION": "cutoff"}
    pair = [bench_server(f"pair-{n}", shared, logs / f"pair-{n}.log") for n in "ab"]
    a, b = start_all(pair)
    try:
        result = {"cross_process": _cross_process(a, b), "propagation": propagation(a, b, count=revocations)}
        for scheme, path, header in _pair_targets(a) if throughput else []:
            single = measure(Target(a, path, header), stores, seconds=seconds, connections=connections)["rps"]
            both = _concurrently([Target(a, path, header), Target(b, path, header)], stores, seconds, connections)
            result[scheme] = {"one_process_rps": round(single), "two_processes_rps": round(both)}
        return result
    finally:
        a.stop()
        b.stop()


def _pair_targets(server: Server) -> list[tuple[str, str, dict]]:
    name, value = session_cookie(server)
    token = access_token(server)
    return [
        (BASELINE, "/healthz", {}),
        (SESSION_REDIS, "/compare/probe/session/", {"Cookie": f"{name}={value}"}),
        (JWT_CUTOFF, "/api/dashboard/", {"Authorization": f"Bearer {token}"}),
    ]


def _concurrently(targets: list[Target], stores: Stores, seconds: float, connections: int) -> float:
    rates: list[float] = []
    threads = [
        threading.Thread(
            target=lambda t=t: rates.append(measure(t, stores, seconds=seconds, connections=connections)["rps"])
        )
        for t in targets
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(rates)


def _cross_process(a: Server, b: Server) -> dict[str, float]:
    """Log in on A, call B; revoke everything on A, call B again until it refuses both or 10 s
    have passed, and say how long that took (`propagation` measures the bound over many)."""
    name, value = session_cookie(a)
    token = access_token(a)
    cookie, bearer = {"Cookie": f"{name}={value}"}, {"Authorization": f"Bearer {token}"}
    before = _statuses(b, cookie, bearer)
    _revoke_everything(a)
    revoked = time.monotonic()
    after = _statuses(b, cookie, bearer)
    while 200 in after and time.monotonic() < revoked + 10:  # far beyond LOCAL_TIER_BOUND
        time.sleep(0.01)
        after = _statuses(b, cookie, bearer)
    return {"session_on_b_before": before[0], "token_on_b_before": before[1],
            "session_on_b_after_revoke_on_a": after[0], "token_on_b_after_revoke_on_a": after[1],
            "refused_on_b_after_ms": round((time.monotonic() - revoked) * 1000, 1)}  # fmt: skip


def _statuses(server: Server, cookie: dict, bearer: dict) -> tuple[int, int]:
    session = requests.get(f"{server.url}/compare/probe/session/", headers=cookie, timeout=10).status_code
    token = requests.get(f"{server.url}/api/dashboard/", headers=bearer, timeout=10).status_code
    return session, token


def propagation(a: Server, b: Server, *, count: int) -> dict:
    """Revoke everything on A `count` times; time until B refuses the session and the token.

    Each time: log in (session and token) on A, make B serve both (so B holds its local
    copies), end them with that session's "log out everywhere" on A, then ask B as fast as
    it answers until both are refused. Measured
    from the moment A's answer to the revocation arrives (the revocation is committed);
    `*_from_request_ms` start when the revocation was sent, an upper bound.
    """
    samples: list[tuple[float, float]] = []
    for _ in range(count):
        revoke, cookie = _revoker(a)
        bearer = {"Authorization": f"Bearer {access_token(a)}"}
        if _statuses(b, cookie, bearer) != (200, 200):
            raise RuntimeError("propagation: B does not accept A's fresh login")
        sent = time.perf_counter()
        revoke()
        answered = time.perf_counter()
        pending = {"session": (cookie, "/compare/probe/session/"), "token": (bearer, "/api/dashboard/")}
        reached = {}
        with requests.Session() as client:
            while pending:
                for name, (headers, path) in list(pending.items()):
                    if client.get(f"{b.url}{path}", headers=headers, timeout=10).status_code != 200:
                        reached[name] = time.perf_counter()
                        del pending[name]
        last = max(reached.values())
        samples.append((max(0.0, last - answered) * 1000, (last - sent) * 1000))
    if not samples:
        return {}
    after_answer = sorted(sample[0] for sample in samples)
    after_request = sorted(sample[1] for sample in samples)
    return {
        "revocations": count,
        "p50_ms": round(_percentile(after_answer, 50), 2),
        "p99_ms": round(_percentile(after_answer, 99), 2),
        "max_ms": round(after_answer[-1], 2),
        "p99_from_request_ms": round(_percentile(after_request, 99), 2),
    }


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ordered list."""
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]
