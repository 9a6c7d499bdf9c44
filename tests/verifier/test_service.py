"""The verifier service against real processes: authdemo under gunicorn, the verifier on its own port.

The verifier gets only JWKS_URL (no secret, no database, no Redis); tokens come from
authdemo's real token endpoint, forged ones are signed here with the keys on disk.
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.utils import timezone

from accounts.models import AccessCutoff
from accounts.services import revoke_everything
from api import keys
from api.wellknown import FEED_MAX_CUTOFFS
from harness.stack import VerifierServer
from tests.factories import PASSWORD, hmac_token, unsigned_token
from tests.support import ROOT

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def site(start_keyed_site):
    return start_keyed_site("ES256")


def obtain(server, user) -> dict:
    response = requests.post(f"{server.url}/api/token/", json={"username": user.username, "password": PASSWORD},
                             timeout=10)  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def dashboard(verifier, token: str) -> requests.Response:
    return requests.get(f"{verifier.url}/dashboard/", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def refused(response, code: str = "token_not_valid") -> bool:
    return (
        response.status_code == 401
        and response.json()["code"] == code
        and response.headers["WWW-Authenticate"] == 'Bearer realm="authdemo"'
    )


def claims_of(token: str, **changes) -> dict:
    return {**jwt.decode(token, options={"verify_signature": False}), **changes}


def sign(directory, claims: dict, **header) -> str:
    active = keys.load_ring(directory).active
    return jwt.encode(claims, active.private_key, algorithm=active.algorithm, headers={"kid": active.kid, **header})


def jwks_fetches(server) -> int:
    return sum("GET /.well-known/jwks.json" in line for line in server.log.read_text().splitlines())


def test_verifier_accepts_a_token_from_authdemo(site, verifier, bob):
    response = dashboard(verifier, obtain(site[0], bob)["access"])
    assert response.status_code == 200
    assert response.json()["message"] == "Access granted to bob"


def test_verifier_answers_in_the_apis_dashboard_shape(site, verifier, bob):
    token = obtain(site[0], bob)["access"]
    api = requests.get(f"{site[0].url}/api/dashboard/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert dashboard(verifier, token).json() == api.json()


def test_verifier_errors_match_the_apis(site, verifier, bob):
    cases = ("", "Bearer", "Basic abc", "Bearer a b", "Bearer x.y.z")
    for headers in ({"Authorization": value} if value else {} for value in cases):
        api = requests.get(f"{site[0].url}/api/dashboard/", headers=headers, timeout=10)
        ours = requests.get(f"{verifier.url}/dashboard/", headers=headers, timeout=10)
        assert (ours.status_code, ours.json(), ours.headers["WWW-Authenticate"]) == (
            api.status_code, api.json(), api.headers["WWW-Authenticate"],
        )  # fmt: skip


def test_verifier_answers_an_unknown_path_with_a_json_404(verifier):
    response = requests.get(f"{verifier.url}/nope", timeout=10)
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found.", "code": "not_found"})


def test_verifier_refuses_an_expired_token(site, verifier, bob):
    now = int(time.time())
    token = sign(site[1], claims_of(obtain(site[0], bob)["access"], iat=now - 900, exp=now - 600))
    assert refused(dashboard(verifier, token), "token_expired")


def test_verifier_refuses_a_token_not_yet_valid(site, verifier, bob):
    token = sign(site[1], claims_of(obtain(site[0], bob)["access"], nbf=int(time.time()) + 600))
    assert refused(dashboard(verifier, token))


def test_verifier_refuses_the_wrong_audience(site, verifier, bob):
    assert refused(dashboard(verifier, sign(site[1], claims_of(obtain(site[0], bob)["access"], aud="other-api"))))


def test_verifier_refuses_the_wrong_issuer(site, verifier, bob):
    assert refused(dashboard(verifier, sign(site[1], claims_of(obtain(site[0], bob)["access"], iss="evil"))))


def test_verifier_refuses_a_refresh_token(site, verifier, bob):
    assert refused(dashboard(verifier, obtain(site[0], bob)["refresh"]))


def test_verifier_refuses_a_foreign_key_under_our_kid(site, verifier, bob, tmp_path):
    claims = claims_of(obtain(site[0], bob)["access"])
    kid = keys.generate_key(directory=tmp_path, algorithm="ES256")
    foreign = keys.load_ring(tmp_path).keys[kid]
    token = jwt.encode(
        claims, foreign.private_key, algorithm="ES256", headers={"kid": keys.load_ring(site[1]).active.kid}
    )
    assert refused(dashboard(verifier, token))


def test_verifier_refuses_an_unknown_kid(site, verifier, bob):
    assert refused(dashboard(verifier, sign(site[1], claims_of(obtain(site[0], bob)["access"]), kid="nope")))


def test_verifier_refuses_a_token_without_kid(site, verifier, bob):
    claims = claims_of(obtain(site[0], bob)["access"])
    active = keys.load_ring(site[1]).active
    assert refused(dashboard(verifier, jwt.encode(claims, active.private_key, algorithm="ES256")))


def test_verifier_refuses_alg_none(site, verifier, bob):
    claims = claims_of(obtain(site[0], bob)["access"])
    assert refused(dashboard(verifier, unsigned_token(claims, kid=keys.load_ring(site[1]).active.kid)))


def test_verifier_refuses_hs256_signed_with_the_public_key(site, verifier, bob):
    """CVE-2022-29217: the published key used as an HMAC secret."""
    claims = claims_of(obtain(site[0], bob)["access"])
    jwk = requests.get(f"{site[0].url}/.well-known/jwks.json", timeout=10).json()["keys"][0]
    for secret in (
        json.dumps(jwk).encode(),
        jwt.PyJWK(jwk).key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
    ):
        assert refused(dashboard(verifier, hmac_token({"alg": "HS256", "kid": jwk["kid"]}, claims, secret)))


def test_verifier_refuses_a_token_naming_its_own_key(site, verifier, bob):
    claims = claims_of(obtain(site[0], bob)["access"])
    assert refused(dashboard(verifier, sign(site[1], claims, jku=f"{site[0].url}/.well-known/jwks.json")))


def test_verifier_refuses_a_revoked_token_once_the_feed_says_so(site, verifier, bob):
    token = obtain(site[0], bob)["access"]
    assert dashboard(verifier, token).status_code == 200
    revoke_everything(user=bob, reason="log out everywhere")
    revoked_at = time.time()  # committed: any feed issued from now on carries the cut-off
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > revoked_at)
    assert refused(dashboard(verifier, token), "token_revoked")


def test_verifier_refuses_a_deleted_users_token_once_the_feed_says_so(site, verifier, bob):
    token = obtain(site[0], bob)["access"]
    assert dashboard(verifier, token).status_code == 200
    bob.delete()  # authdemo logs a deleted user out everywhere
    deleted_at = time.time()
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > deleted_at)
    assert refused(dashboard(verifier, token), "token_revoked")


def test_verifier_survives_the_rotation_runbook_with_the_default_cooldown(start_keyed_site, start_verifier, bob):
    """README's runbook: publish the next key, let verifiers refetch within max-age, activate.
    The verifier keeps its default unknown-kid cooldown (30 s): a stale set alone makes it refetch."""
    server, directory = start_keyed_site("EdDSA", JWKS_MAX_AGE="1")
    verifier = start_verifier(server)
    old_token = obtain(server, bob)["access"]
    kid = keys.generate_key(directory=directory, algorithm="EdDSA")  # 1. publish
    # 2. within max-age (1 s), well before the 30 s cooldown: the stale set alone makes it refetch
    wait_for(lambda: dashboard(verifier, old_token).status_code == 200 and kid in verifier.health()["keys"], 15)
    keys.activate_key(directory=directory, kid=kid, algorithm="EdDSA")  # 3. activate
    new_token = obtain(server, bob)["access"]
    assert dashboard(verifier, new_token).status_code == 200
    assert dashboard(verifier, old_token).status_code == 200  # the retired key is still published


def test_verifier_drops_a_removed_key_at_the_feeds_pace(start_keyed_site, start_verifier, bob):
    server, directory = start_keyed_site("ES256")
    old_kid, old_token = keys.load_ring(directory).active.kid, obtain(server, bob)["access"]
    keys.activate_key(directory=directory, kid=keys.generate_key(directory=directory, algorithm="ES256"),
                      algorithm="ES256")  # fmt: skip
    verifier = start_verifier(server, REVOCATION_POLL="0.2")  # its key set (max-age 300 s) holds both keys
    assert dashboard(verifier, old_token).status_code == 200
    keys.remove_key(directory=directory, kid=old_kid, force=True)  # leaked: remove it at once
    removed_at = time.time()
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > removed_at)
    assert refused(dashboard(verifier, old_token))


def test_verifier_drops_a_leaked_key_while_its_unknown_kid_cooldown_runs(start_keyed_site, start_verifier, bob):
    """README's leaked-key runbook while the holder of the key keeps the cooldown running: the
    feed's new signing key is fetched at once, so the feed that no longer lists the leaked kid lands."""
    server, directory = start_keyed_site("ES256")
    verifier = start_verifier(server, REVOCATION_POLL="0.2", JWKS_COOLDOWN="3600")
    leaked_kid, leaked_token = keys.load_ring(directory).active.kid, obtain(server, bob)["access"]
    assert dashboard(verifier, leaked_token).status_code == 200
    assert refused(dashboard(verifier, sign(directory, claims_of(leaked_token), kid=secrets.token_urlsafe(16))))
    keys.activate_key(directory=directory, kid=keys.generate_key(directory=directory, algorithm="ES256"),
                      algorithm="ES256")  # fmt: skip
    keys.remove_key(directory=directory, kid=leaked_kid, force=True)
    removed_at = time.time()
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > removed_at, 10)
    assert refused(dashboard(verifier, leaked_token))
    assert dashboard(verifier, obtain(server, bob)["access"]).status_code == 200


def test_verifier_fails_closed_on_a_replayed_feed(start_keyed_site, start_verifier, bob, replaying_proxy):
    """A proxy that answers the last genuine feed again and again: the copy ages from its own iat."""
    server, _ = start_keyed_site("ES256")
    proxy = replaying_proxy(server.url)
    verifier = start_verifier(server, REVOCATION_URL=f"{proxy.url}/api/revocations/", REVOCATION_POLL="0.2",
                              REVOCATION_MAX_STALE="2", REVOCATION_CLOCK_SKEW="0.5")  # fmt: skip
    token = obtain(server, bob)["access"]
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > 0)
    proxy.replay()
    revoke_everything(user=bob, reason="log out everywhere")
    wait_for(lambda: verifier.health()["status"] != "ok", 10)
    health = requests.get(f"{verifier.url}/healthz", timeout=10)
    assert (health.status_code, health.json()["status"]) == (503, "refusing every token: revocation feed too old")
    assert 2.5 < health.json()["revocation_feed_age"] < 2.5 + 1  # the bound, plus one poll and slack
    response = dashboard(verifier, token)
    assert (response.status_code, response.json()["code"]) == (503, "verifier_unavailable")


def test_verifier_refuses_tokens_issued_before_a_mass_revocation(site, verifier, bob):
    """More cut-offs in the window than the feed lists: every token issued under an older cut-off
    up to the leeway (10 s: clocks that differ) after the newest folded one is refused, a user's
    who was not revoked too; one issued later verifies (signed here: no waiting 10 s)."""
    token = obtain(site[0], bob)["access"]
    at = timezone.now()
    AccessCutoff.objects.bulk_create(AccessCutoff(user_id=10**12 + n, at=at) for n in range(FEED_MAX_CUTOFFS + 1))
    wait_for(lambda: verifier.health()["revocation_feed_revoked_before"] >= at.timestamp())
    assert refused(dashboard(verifier, token), "token_revoked")
    assert refused(dashboard(verifier, obtain(site[0], bob)["access"]), "token_revoked")
    later = sign(site[1], claims_of(token, iat=at.timestamp() + 10.001), typ="at+jwt")
    assert dashboard(verifier, later).status_code == 200


def test_verifier_judges_by_the_cutoff_the_token_carries_not_by_the_clock(site, verifier, bob):
    """A token from an instance 2 s ahead, issued before the revocation, is refused; one from an
    instance 2 s behind, issued after it, verifies (both signed here with the moved iat)."""
    claims = claims_of(obtain(site[0], bob)["access"])
    before = sign(site[1], {**claims, "iat": time.time() + 2}, typ="at+jwt")
    revoke_everything(user=bob, reason="log out everywhere")
    revoked_at = time.time()
    after = claims_of(obtain(site[0], bob)["access"])
    after = sign(site[1], {**after, "iat": after["iat"] - 2}, typ="at+jwt")
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > revoked_at)
    assert refused(dashboard(verifier, before), "token_revoked")
    assert dashboard(verifier, after).status_code == 200


def test_verifier_without_the_feed_token_fails_closed_saying_why(site, bob, tmp_path):
    """No feed yet: every token refused from the start, not for REVOCATION_MAX_STALE after it (a
    verifier started while its feed is out of reach knows of no revocation). Never healthy, so
    started here rather than by start_verifier, which waits for a 200."""
    env = {"PATH": os.environ["PATH"], "JWKS_URL": f"{site[0].url}/.well-known/jwks.json", "REVOCATION_POLL": "0.2"}
    verifier = VerifierServer("verifier-without-feed-token", env, tmp_path / "verifier.log").start()
    try:
        wait_for(lambda: (health_of(verifier) or {}).get("revocation_feed_error"))
        health = verifier.health()
        assert health["status"] == "refusing every token: revocation feed too old"
        assert health["revocation_feed_error"] == f"{site[0].url}/api/revocations/ answered HTTP 401"
        response = dashboard(verifier, obtain(site[0], bob)["access"])
        assert (response.status_code, response.json()["code"]) == (503, "verifier_unavailable")
    finally:
        verifier.stop()


def health_of(verifier) -> dict | None:
    """/healthz's answer, None while the verifier does not answer yet."""
    try:
        return verifier.health()
    except requests.RequestException:
        return None


def test_verifier_never_uses_a_larger_leeway_than_authdemo(site, start_verifier, bob):
    verifier = start_verifier(site[0], JWT_LEEWAY="600")  # authdemo's is 10 s
    wait_for(lambda: verifier.health()["revocation_feed_issued_at"] > 0)
    now = int(time.time())
    token = sign(site[1], claims_of(obtain(site[0], bob)["access"], iat=now - 400, exp=now - 60))
    assert refused(dashboard(verifier, token), "token_expired")


def answer_once_authdemo_is_gone(start_keyed_site, start_verifier, bob, site_env: dict, verifier_env: dict):
    """Stop authdemo under a verifier; return its answer to a good token once /healthz says it
    no longer trusts what it has, and that /healthz answer."""
    server, _ = start_keyed_site("ES256", **site_env)
    verifier = start_verifier(server, **verifier_env)
    token = obtain(server, bob)["access"]
    server.stop()
    wait_for(lambda: verifier.health()["status"] != "ok")
    return dashboard(verifier, token), requests.get(f"{verifier.url}/healthz", timeout=10)


def test_verifier_refuses_every_token_once_its_feed_is_too_old(start_keyed_site, start_verifier, bob):
    response, health = answer_once_authdemo_is_gone(
        start_keyed_site, start_verifier, bob, {}, {"REVOCATION_POLL": "0.2", "REVOCATION_MAX_STALE": "1"}
    )
    assert (response.status_code, response.json()["code"]) == (503, "verifier_unavailable")
    assert (health.status_code, health.json()["status"]) == (503, "refusing every token: revocation feed too old")


def test_verifier_refuses_every_token_once_its_key_set_is_too_old(start_keyed_site, start_verifier, bob):
    response, health = answer_once_authdemo_is_gone(
        start_keyed_site, start_verifier, bob, {"JWKS_MAX_AGE": "1"}, {"REVOCATION_URL": "off", "JWKS_MAX_STALE": "1"}
    )
    assert (response.status_code, response.json()["code"]) == (503, "verifier_unavailable")
    assert (health.status_code, health.json()["status"]) == (503, "refusing every token: key set too old")


def test_verifier_keeps_verifying_while_authdemo_is_down(start_keyed_site, start_verifier, bob):
    server, directory = start_keyed_site("RS256")
    verifier = start_verifier(server, JWKS_COOLDOWN="0")
    token = obtain(server, bob)["access"]
    server.stop()
    assert dashboard(verifier, token).status_code == 200
    assert refused(dashboard(verifier, sign(directory, claims_of(token), kid="unknown-while-down")))
    assert dashboard(verifier, token).status_code == 200


def test_random_kids_cause_at_most_one_key_set_fetch_per_cooldown(site, start_verifier, bob):
    verifier = start_verifier(site[0], JWKS_COOLDOWN="3600")
    claims = claims_of(obtain(site[0], bob)["access"])
    before = jwks_fetches(site[0])
    with requests.Session() as session:
        for _ in range(1000):
            token = sign(site[1], claims, kid=secrets.token_urlsafe(16))
            response = session.get(f"{verifier.url}/dashboard/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401
    assert jwks_fetches(site[0]) - before <= 1


def test_verifier_with_an_unreachable_key_set_url_stops_with_one_line():
    result = run_verifier(JWKS_URL="http://127.0.0.1:9/.well-known/jwks.json")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "verifier: http://127.0.0.1:9/.well-known/jwks.json is unreachable ([Errno 111] Connection refused)"
    ]


def test_verifier_with_a_key_set_that_is_not_json_stops_with_one_line(site):
    result = run_verifier(JWKS_URL=f"{site[0].url}/healthz?not-a-key-set")
    assert result.stderr.strip().splitlines() == [
        f"verifier: {site[0].url}/healthz?not-a-key-set did not answer a JSON key set ({{'keys': [...]}})"
    ]


def test_verifier_without_jwks_url_stops_with_one_line():
    assert run_verifier().stderr.strip().startswith("verifier: JWKS_URL must be set")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REVOCATION_CLOCK_SKEW": "soon"}, "verifier: REVOCATION_CLOCK_SKEW='soon' is not a number."),
        ({"REVOCATION_CLOCK_SKEW": "-1"}, "verifier: REVOCATION_CLOCK_SKEW='-1' must be at least 0 and at most 30."),
        ({"REVOCATION_CLOCK_SKEW": "31"}, "verifier: REVOCATION_CLOCK_SKEW='31' must be at least 0 and at most 30."),
        ({"REVOCATION_FEED_TOKEN": "short"}, "verifier: REVOCATION_FEED_TOKEN must be one token of at least 32"),
        ({"REVOCATION_FEED_TOKEN": "a" * 32 + ",b" * 32}, "verifier: REVOCATION_FEED_TOKEN must be one token"),
    ],
)
def test_verifier_with_a_bad_feed_setting_stops_with_one_line(env, message):
    lines = run_verifier(JWKS_URL="http://127.0.0.1:9/.well-known/jwks.json", **env).stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)


# -- helpers ------------------------------------------------------------------------------------


def run_verifier(**env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "verifier"], cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip


class ReplayingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards GETs to `upstream` and remembers the last answer;
    after replay() it answers that copy to every request, as a hostile middlebox could."""

    def __init__(self, upstream: str):
        self.upstream, self.last, self.replaying = upstream, None, threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if not proxy.replaying.is_set():
                    got = requests.get(f"{proxy.upstream}{self.path}", headers=dict(self.headers), timeout=10)
                    proxy.last = (got.status_code, got.headers["Content-Type"], got.content)
                status, content_type, body = proxy.last
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def replay(self) -> None:
        self.replaying.set()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replaying_proxy():
    proxies = []

    def _start(upstream: str) -> ReplayingProxy:
        proxies.append(ReplayingProxy(upstream))
        return proxies[-1]

    yield _start
    for proxy in proxies:
        proxy.stop()


def wait_for(condition, timeout: float = 30) -> None:
    """Wait for a state change (not a speed check: the bench measures how fast)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never became true")
        time.sleep(0.05)
