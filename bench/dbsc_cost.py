"""`python -m bench.dbsc_cost`: what a DBSC refresh costs the server, in-process, and how often.

Logs a user in over (simulated) HTTPS with Django's test client, binds the session to an
ES256 or RS256 key (devicebound.client plays the browser), then times, per refresh:
the 403 that issues a challenge, the 200 that checks the signed proof and sets a fresh bound
cookie, and, apart, the check every page request of a bound session adds (the bound
cookie's HMAC). CPU time of this thread, best of ROUNDS; a throwaway SQLite database in
memory, production settings otherwise (debug off). The browser's own signing is not counted.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time

ROUNDS, CALLS = 5, 200


def _best(function, calls: int = CALLS) -> float:
    """Best microseconds per call over ROUNDS runs of `calls` calls."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.thread_time()
        for _ in range(calls):
            function()
        best = min(best, (time.thread_time() - started) / calls * 1e6)
    return best


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authdemo.settings_test")  # MD5 hasher: fast logins
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("JWT_SIGNING_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("EMAIL_URL", "dummymail://")
    os.environ.setdefault("SITE_URL", "http://127.0.0.1")
    import django

    django.setup()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, serialize=False)  # SQLite: in memory
    logging.getLogger("django.request").setLevel(logging.ERROR)  # each 403 would log a warning


def measure(algorithm: str) -> dict[str, float]:
    from django.conf import settings
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

    baseline = _best(lambda: client.get("/healthz", secure=True))
    sign = _best(lambda: key.refresh_proof("x" * 43))
    issue = _best(challenge)
    both = _best(refresh)
    request = RequestFactory(HTTP_HOST="127.0.0.1").get("/accounts/profile/", secure=True)
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    request.session = client.session
    assert request.session[REGISTRY_KEY] and not services.refuses(request=request)
    proof, jwk = key.refresh_proof("x" * 43), key.jwk
    verify = _best(lambda: proofs.check_refresh(proof, algorithm=algorithm, jwk=jwk))
    check = _best(lambda: services.refuses(request=request), calls=CALLS * 10)
    return {
        "GET /healthz through the same client (baseline)": baseline,
        "challenge (403)": issue,
        "proof checked, cookie set (200)": both - issue - sign,
        "whole refresh (both requests)": both - sign,
        "of which the signature check": verify,
        "per request of a bound session": check,
        "refresh interval (s)": settings.DBSC_COOKIE_AGE - 120,
    }


def main() -> None:
    _setup()
    for algorithm in ("ES256", "RS256"):
        results = measure(algorithm)
        interval = results.pop("refresh interval (s)")
        print(f"{algorithm}:")
        for name, microseconds in results.items():
            print(f"  {microseconds:8.1f} µs  {name}")
        whole = results["whole refresh (both requests)"]
        print(
            f"  one refresh per browser every {interval} s (DBSC_COOKIE_AGE - 120 s): "
            f"{whole / interval:.2f} µs of CPU per second per bound browser, "
            f"{10_000 / interval:.1f} refreshes/s for 10,000 of them"
        )


if __name__ == "__main__":
    sys.exit(main())
