"""`python -m bench.dbsc_cost`: what a DBSC refresh costs the server, in-process, and how often.

Logs a user in over (simulated) HTTPS with Django's test client, binds the session to an
ES256 or RS256 key (devicebound.client plays the browser), then times, per refresh:
the 403 that issues a challenge, the 200 that checks the signed proof and sets a fresh bound
cookie, and, apart, the check every page request of a bound session adds (the bound
cookie's HMAC). CPU time of this thread, best of ROUNDS; a throwaway SQLite database in
memory (unless DATABASE_URL names one), production settings otherwise (debug off). The
browser's own signing is not counted.
"""

from __future__ import annotations

import logging
import secrets
import sys
import time

from bench.in_process import setup_django

ALGORITHMS = ("ES256", "RS256")
ROUNDS, CALLS = 5, 200
LABELS = {
    "baseline_us": "GET /healthz through the same client (baseline)",
    "challenge_us": "challenge (403)",
    "proof_us": "proof checked, cookie set (200)",
    "refresh_us": "whole refresh (both requests)",
    "signature_us": "of which the signature check",
    "per_request_us": "per request of a bound session",
}


def _best(function, *, rounds: int, calls: int) -> float:
    """Best microseconds per call over `rounds` runs of `calls` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(calls):
            function()
        best = min(best, (time.thread_time() - started) / calls * 1e6)
    return best


def _setup() -> None:
    setup_django("authdemo.settings_test")  # MD5 hasher: fast logins
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, serialize=False)  # SQLite: in memory
    logging.getLogger("django.request").setLevel(logging.ERROR)  # each 403 would log a warning


def measure(algorithm: str, *, rounds: int = ROUNDS, calls: int = CALLS) -> dict[str, float]:
    """Microseconds of server CPU per step of one refresh with an `algorithm` key (LABELS)."""
    from django.test import Client, RequestFactory

    from accounts.authentication import REGISTRY_KEY
    from accounts.models import User
    from devicebound import proofs, services
    from devicebound.client import DeviceKey, challenge_of, parameters

    password = secrets.token_urlsafe(16)
    user = User.objects.create_user(username=f"bench-{algorithm.lower()}", password=password)
    client, key = Client(HTTP_HOST="127.0.0.1"), DeviceKey(algorithm)
    login = client.post("/accounts/login/", {"username": user.username, "password": password}, secure=True)
    offer = parameters(login[services.REGISTRATION_HEADER])
    registered = client.post(
        offer["path"], secure=True, headers={"Secure-Session-Response": key.registration_proof(offer["challenge"])}
    )
    session_id = registered.json()["session_identifier"]

    def challenge() -> str:
        response = client.post("/dbsc/refresh/", secure=True, headers={"Sec-Secure-Session-Id": session_id})
        assert response.status_code == 403, response.content
        return challenge_of(response[services.CHALLENGE_HEADER])

    # The 200 needs a live challenge, so a refresh is timed whole (403 + 200, as the browser
    # does it) and the 403 and the browser's signing are subtracted.
    def refresh() -> None:
        proof = key.refresh_proof(challenge())
        response = client.post(
            "/dbsc/refresh/",
            secure=True,
            headers={"Sec-Secure-Session-Id": session_id, "Secure-Session-Response": proof},
        )
        assert response.status_code == 200, response.content

    def best(function, *, more: int = 1) -> float:
        return _best(function, rounds=rounds, calls=calls * more)

    baseline = best(lambda: client.get("/healthz", secure=True))
    sign = best(lambda: key.refresh_proof("x" * 43))
    issue = best(challenge)
    both = best(refresh)
    request = RequestFactory(HTTP_HOST="127.0.0.1").get("/accounts/profile/", secure=True)
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    request.session = client.session
    assert request.session[REGISTRY_KEY] and not services.refuses(request=request)
    proof, jwk = key.refresh_proof("x" * 43), key.jwk
    verify = best(lambda: proofs.check_refresh(proof, algorithm=algorithm, jwk=jwk))
    check = best(lambda: services.refuses(request=request), more=10)
    return {
        "baseline_us": baseline,
        "challenge_us": issue,
        "proof_us": both - issue - sign,
        "refresh_us": both - sign,
        "signature_us": verify,
        "per_request_us": check,
    }


def measure_all(*, algorithms: tuple[str, ...] = ALGORITHMS, rounds: int = ROUNDS, calls: int = CALLS) -> dict:
    """Set Django up, then time a refresh per algorithm; with how often a bound browser refreshes."""
    _setup()
    from django.conf import settings

    return {
        "algorithms": {algorithm: measure(algorithm, rounds=rounds, calls=calls) for algorithm in algorithms},
        "refresh_interval_s": settings.DBSC_COOKIE_AGE - 120,  # the cookie is refreshed 120 s before it expires
    }


def main() -> None:
    results = measure_all()
    interval = results["refresh_interval_s"]
    for algorithm, rows in results["algorithms"].items():
        print(f"{algorithm}:")
        for name, microseconds in rows.items():
            print(f"  {microseconds:8.1f} µs  {LABELS[name]}")
        whole = rows["refresh_us"]
        print(
            f"  one refresh per browser every {interval} s (DBSC_COOKIE_AGE - 120 s): "
            f"{whole / interval:.2f} µs of CPU per second per bound browser, "
            f"{10_000 / interval:.1f} refreshes/s for 10,000 of them"
        )


if __name__ == "__main__":
    sys.exit(main())
