"""A benchmark result built by the harness's own summary code from made-up rounds."""

from authdemo.measured import BASELINE
from bench.load import OTHER_SERVERS
from bench.report import by_server, check_in_process_targets, check_targets, summarize
from bench.schemes import ALL_SCHEMES, SCHEMES, on_other_servers

# Requests per second per scheme; the second round drifts 10% slower for all.
RATES = {
    "healthz": 1000,
    "session_db": 400,
    "session_redis": 600,
    "session_cached_db": 550,
    "session_signed_cookies": 700,
    "jwt_stateless": 800,
    "jwt_db_user": 500,
    "jwt_cutoff": 780,
    "jwt_cookie": 790,
    "page_profile": 300,
    "page_profile_redis": 420,
    "peer_django_ping": 1200,
    "peer_django_jwt": 900,
    "peer_django_session": 700,
    "peer_fastapi_ping": 2000,
    "peer_fastapi_jwt": 850,
    "peer_fastapi_session": 900,
    "peer_express_ping": 3000,
    "peer_express_session": 1500,
    "peer_express_session_memory": 2500,
    "peer_express_jwt": 600,
    "peer_express_jwt_key": 2000,
}
# The other server kinds: /healthz 1.5x slower under gunicorn sync (its 1.6x target missed), 1.2x
# under gthread; the rest of each kind's rows 1.25x slower than under the benchmark's own server.
SLOWER = {"gunicorn-sync": 1.25, "gunicorn-gthread": 1.25}
HEALTHZ_SLOWER = {"gunicorn-sync": 1.5, "gunicorn-gthread": 1.2}
SQL = {"session_db": 2, "session_cached_db": 1, "session_signed_cookies": 1, "jwt_db_user": 1}
REDIS = {"session_redis": 1, "session_cached_db": 1, "jwt_cutoff": 1}


def _run(key: str, drift: float) -> dict:
    scheme, _, kind = key.partition("@")
    rps = RATES[scheme] * drift / ((HEALTHZ_SLOWER if scheme == BASELINE else SLOWER).get(kind, 1))
    key = scheme
    return {
        "rps": rps,
        "p50_ms": 4000 / rps,
        "p99_ms": 20000 / rps,
        "app_cpu_us": 1e6 / rps * 0.8,
        "postgres_cpu_us": 50.0 * SQL.get(key, 0),
        "redis_cpu_us": 10.0 * REDIS.get(key, 0),
        "sql_per_request": float(SQL.get(key, 0)),
        "redis_per_request": float(REDIS.get(key, 0)),
        "requests": int(rps * 4),
    }


def sample_in_process() -> dict:
    """The in-process costs as bench.run gathers them: DPoP adds 260 µs (over its 250 µs target),
    the hashed lookup takes 1 µs (within its 5 µs)."""
    dbsc = {"challenge_us": 1500.0, "proof_us": 2300.0, "refresh_us": 3800.0, "signature_us": 130.0,
            "per_request_us": 12.0, "baseline_us": 320.0}  # fmt: skip
    measured = {
        "dpop": {"bearer": 400.0, "dpop": 660.0, "added": 260.0, "added, median pair": 275.0, "signature": 70.0,
                 "replay": 50.0, "rest": 140.0, "proof checks": 80.0, "rest of proof checks": 10.0},
        "dbsc": {"algorithms": {"ES256": dbsc, "RS256": {**dbsc, "refresh_us": 4800.0}}, "refresh_interval_s": 480},
        "hashed_lookup_us": 1.0,
    }  # fmt: skip
    return {**measured, "targets": check_in_process_targets(measured)}


def sample_results(*, full: bool = True, burst: float = 1.0) -> dict:
    """Return a complete results document, as `make bench` writes it. With `burst`, other work
    slows every scheme but /healthz by that factor in the second round only."""
    rounds = [
        {scheme.key: _run(scheme.key, drift / (burst if slowed and scheme.key != BASELINE else 1))
         for scheme in ALL_SCHEMES + on_other_servers(OTHER_SERVERS)}
        for drift, slowed in ((1.0, False), (0.9, True))
    ]  # fmt: skip
    summary = summarize(rounds)
    for row in summary.values():
        row["credential_bytes"] = 32
    empty, servers = by_server(summary)
    own = {scheme.key for scheme in SCHEMES}  # the peers are measured on empty stores only
    scaled = summarize([{k: {**run, "rps": run["rps"] * 0.97} for k, run in r.items() if k in own} for r in rounds])
    scalability = {
        "cross_process": {
            "session_on_b_before": 200,
            "token_on_b_before": 200,
            "session_on_b_after_revoke_on_a": 403,
            "token_on_b_after_revoke_on_a": 401,
        },
        "propagation": {"revocations": 100, "p50_ms": 2.0, "p99_ms": 9.5, "max_ms": 12.0, "p99_from_request_ms": 30},
    }
    workers = {
        "settings": "wrk -t1, 4 s each",
        "schemes": {"healthz": {"label": "/healthz (no auth)", "one": 1000, "two": 1500},
                    "session_redis": {"label": "session: redis", "one": 600, "two": 900},
                    "jwt_cutoff": {"label": "JWT: cut-off check", "one": 750, "two": 1100}},
    }  # fmt: skip
    return {
        "mode": "full",
        "measured_at": "2026-11-27T10:00:00+00:00",
        "machine": {"cpu": "Test CPU <2>", "cores": 2, "memory_gb": 4, "os": "Linux", "versions": "v", "commit": "abc"},
        "settings": "test settings",
        "rounds": len(rounds),
        "server": "granian",
        "servers_settings": "test server settings.",
        "empty": empty,
        "servers": servers,
        "full": scaled if full else None,
        "scale_rows": 1_000_000,
        "fill_seconds": 1.0,
        "operations": {"empty": {"token login": 50.0}},
        "scalability": scalability,
        "workers": workers,
        "verifier": {
            "algorithms": {
                name: {
                    "rps": rps,
                    "p50_ms": 1.0,
                    "p99_ms": 2.0,
                    "app_cpu_us": cpu,
                    "verify_us": 50.0,
                    "token_bytes": size,
                }
                for name, rps, cpu, size in (("HS256 (authdemo)", 900, 700, 380), ("EdDSA", 1400, 450, 420))
            },
            "revocation": {
                "samples": 100,
                "poll_seconds": 1.0,
                "p50_ms": 520.0,
                "p99_ms": 1010.0,
                "max_ms": 1020.0,
                "mean_ms": 530.0,
            },  # fmt: skip
        },
        "in_process": sample_in_process(),
        "targets": check_targets(empty, scaled if full else None, scalability, servers=servers),
    }


def sample_cluster_results() -> dict:
    """A `make drill` results file, as deploy.cluster.drill writes it."""
    every = ("session_redis", "jwt_cutoff", "session_db", "jwt_stateless")
    return {
        "measured_at": "2026-01-01T00:00:00+00:00",
        "cpus": 2,
        "throughput": {"session_redis": {"1": 410, "2": 520, "3": 530}, "jwt_cutoff": {"1": 600, "2": 700, "3": 710}},
        "failover_seconds": 2.4,
        "drills": [
            {"name": "Redis primary killed", "requests": dict.fromkeys(every, 100),
             "failed": {"session_redis": 11, "jwt_cutoff": 0, "session_db": 0, "jwt_stateless": 0},
             "violations": [], "timeline": []},
        ],
    }  # fmt: skip
