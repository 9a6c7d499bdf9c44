"""The verifier service measured beside authdemo: what a request costs it for RS256, ES256 and
EdDSA (next to authdemo's own HS256 row of the same run), the token sizes, and how long
"log out everywhere" takes to reach it through the revocation feed (p50/p99).
"""

from __future__ import annotations

import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import jwt
import requests

from bench.load import Target, bench_server, cpu_seconds, run_wrk
from bench.schemes import access_token, session_cookie
from harness.stack import ROOT, Server, VerifierServer

ALGORITHMS = ("RS256", "ES256", "EdDSA")
FEED_TOKEN = secrets.token_urlsafe(32)  # REVOCATION_FEED_TOKEN of the sites and their verifiers (debug is off)


def keyed_site(env: dict[str, str], logs: Path, algorithm: str) -> Server:
    """An authdemo process signing with `algorithm` from a fresh key ring."""
    directory = logs / f"keys-{algorithm}"
    site_env = {**env, "JWT_ALGORITHM": algorithm, "JWT_KEYS_DIR": str(directory), "JWT_REVOCATION": "cutoff",
                "AUTH_THROTTLE_RATE": "100000/minute", "REVOCATION_FEED_TOKEN": FEED_TOKEN}  # fmt: skip
    command = [sys.executable, "manage.py", "jwt_keys", "generate", "--activate"]
    subprocess.run(command, cwd=ROOT, env=site_env, check=True, capture_output=True)  # noqa: S603
    return bench_server(f"site-{algorithm}", site_env, logs / f"site-{algorithm}.log")


def verify_cost_us(token: str, site: Server, algorithm: str, *, rounds: int) -> float:
    """Microseconds PyJWT takes to check one token's signature and claims, in this process."""
    key = jwt.PyJWK(requests.get(f"{site.url}/.well-known/jwks.json", timeout=10).json()["keys"][0]).key
    started = time.perf_counter()
    for _ in range(rounds):
        jwt.decode(token, key, algorithms=[algorithm], audience="authdemo-api", issuer="authdemo")
    return (time.perf_counter() - started) / rounds * 1e6


def measure_verifier(verifier: VerifierServer, token: str, *, seconds: float, connections: int) -> dict:
    """wrk against the verifier's /dashboard/; throughput, latency and its CPU per request."""
    pids = verifier.worker_pids()
    before = cpu_seconds(pids)
    target = Target(verifier, "/dashboard/", {"Authorization": f"Bearer {token}"})
    result = run_wrk(target, seconds=seconds, connections=connections)
    after = cpu_seconds(pids)
    if result["non_2xx"] or result["socket_errors"] or not result["requests"]:
        raise RuntimeError(f"{verifier.name}: {result['non_2xx']} non-2xx, {result['socket_errors']} errors")
    return {
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "app_cpu_us": sum(after[p] - before.get(p, 0.0) for p in after) * 1e6 / result["requests"],
    }


def revocation_delays(site: Server, verifier: VerifierServer, *, samples: int) -> list[float]:
    """Milliseconds from POSTing "log out everywhere" to the verifier refusing the old token."""
    delays = []
    for _ in range(samples):
        token = access_token(site)
        client = requests.Session()
        client.cookies.set(*session_cookie(site))
        client.get(f"{site.url}/accounts/sessions/", timeout=10).raise_for_status()  # the CSRF cookie
        form = {"csrfmiddlewaretoken": client.cookies["csrftoken"]}
        with requests.Session() as probe:
            probe.headers["Authorization"] = f"Bearer {token}"
            if probe.get(f"{verifier.url}/dashboard/", timeout=10).status_code != 200:
                raise RuntimeError("the verifier refused a fresh token")
            started = time.perf_counter()
            url = f"{site.url}/accounts/sessions/everywhere/"
            client.post(url, data=form, timeout=30, allow_redirects=False).raise_for_status()
            while probe.get(f"{verifier.url}/dashboard/", timeout=10).status_code == 200:
                time.sleep(0.002)
            delays.append((time.perf_counter() - started) * 1000)
    return delays


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(
    env: dict[str, str], logs: Path, *, seconds: float, connections: int, revocations: int,
    algorithms: tuple[str, ...] = ALGORITHMS,
) -> dict:  # fmt: skip
    """Measure the verifier for each algorithm; the revocation delay on the last one."""
    rows, delays, poll = {}, [], "1"
    for algorithm in algorithms:
        site = keyed_site(env, logs, algorithm).start().wait_ready()
        verifier = None
        try:
            verifier = VerifierServer(
                f"verifier-{algorithm}", {"PATH": env["PATH"], "JWKS_URL": f"{site.url}/.well-known/jwks.json",
                                          "REVOCATION_POLL": poll, "REVOCATION_FEED_TOKEN": FEED_TOKEN},
                logs / f"verifier-{algorithm}.log",
            ).start().wait_ready()  # fmt: skip
            token = access_token(site)
            rows[algorithm] = {
                **measure_verifier(verifier, token, seconds=seconds, connections=connections),
                "verify_us": verify_cost_us(token, site, algorithm, rounds=500),
                "token_bytes": len(token),
            }
            print(f"  verifier {algorithm}: {rows[algorithm]['rps']:.0f} req/s", flush=True)
            if algorithm == algorithms[-1]:
                delays = revocation_delays(site, verifier, samples=revocations)
        finally:
            for server in (verifier, site):
                if server is not None:
                    server.stop()
    return {
        "algorithms": rows,
        "revocation": {
            "samples": len(delays),
            "poll_seconds": float(poll),
            "p50_ms": round(percentile(delays, 0.5), 1),
            "p99_ms": round(percentile(delays, 0.99), 1),
            "max_ms": round(max(delays), 1),
            "mean_ms": round(statistics.fmean(delays), 1),
        },
    }


def hs256_row(site: Server, env: dict[str, str], stateless: dict) -> dict:
    """authdemo's own HS256 figures from the same run (its /api/dashboard/ without cut-off)."""
    token = access_token(site)
    secret = env["JWT_SIGNING_KEY"]
    started, rounds = time.perf_counter(), 500
    for _ in range(rounds):
        jwt.decode(token, secret, algorithms=["HS256"], audience="authdemo-api", issuer="authdemo")
    verify_us = (time.perf_counter() - started) / rounds * 1e6
    keep = ("rps", "p50_ms", "p99_ms", "app_cpu_us")
    return {**{k: stateless[k] for k in keep}, "verify_us": verify_us, "token_bytes": len(token)}


def main(argv: list[str] | None = None) -> Path:
    """`python -m bench.verifier` (`make bench-verifier`): this part of `make bench` alone."""
    import argparse
    import json
    import tempfile

    from bench.load import measure
    from bench.report import verifier_table
    from harness.stack import Stores, base_env, ensure_wrk, prepare_site, recreate_database

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--revocations", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "bench-verifier")
    parser.add_argument("--redis-db", type=int, default=11, help="emptied first (default 11)")
    args = parser.parse_args(argv)
    ensure_wrk()
    stores = Stores("authdemo_bench_verifier", args.redis_db)
    recreate_database(stores)
    env = base_env(stores)
    prepare_site(env)
    logs = Path(tempfile.mkdtemp(prefix="authdemo-bench-verifier-"))
    site = bench_server("jwt-off", {**env, "JWT_REVOCATION": "off"}, logs / "jwt-off.log").start().wait_ready()
    try:
        target = Target(site, "/api/dashboard/", {"Authorization": f"Bearer {access_token(site)}"})
        stateless = measure(target, stores, seconds=args.seconds, connections=4)
        hs256 = hs256_row(site, env, stateless)
    finally:
        site.stop()
    service = run(env, logs, seconds=args.seconds, connections=4, revocations=args.revocations)
    service["algorithms"] = {"HS256 (authdemo)": hs256, **service["algorithms"]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(service, indent=1) + "\n")
    print("\n".join(verifier_table(service)))
    return args.out / "latest.json"


if __name__ == "__main__":
    main()
