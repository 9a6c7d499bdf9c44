"""DPoP-bound tokens at the verifier service: real authdemo and verifier processes, real keys."""

import http.client
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from api import keys
from scripts.dpop_demo import DpopKey
from tests.factories import PASSWORD
from verifier.dpop import access_token_hash

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def site(start_keyed_site):
    return start_keyed_site("EdDSA", AUTH_THROTTLE_RATE="1000/minute")  # two logins a test, from one address


@pytest.fixture(params=["ES256", "EdDSA"])
def key(request) -> DpopKey:
    return DpopKey.generate(request.param)


def obtain(site, key: DpopKey | None = None) -> str:
    """Log in at authdemo (as a DPoP client if `key`: the nonce round trip included); the access token."""
    url, headers = f"{site.url}/api/token/", {}
    if key is not None:
        first = requests.post(url, json={"username": "bob", "password": PASSWORD}, timeout=10,
                              headers={"DPoP": key.proof("POST", url)})  # fmt: skip
        assert first.json()["code"] == "use_dpop_nonce"
        headers = {"DPoP": key.proof("POST", url, nonce=first.headers["DPoP-Nonce"])}
    response = requests.post(url, json={"username": "bob", "password": PASSWORD}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access"]


def dashboard(verifier, token: str, proof: str | None = None, scheme: str = "DPoP") -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}", **({"DPoP": proof} if proof is not None else {})}
    return requests.get(f"{verifier.url}/dashboard/", headers=headers, timeout=10)


def proof(verifier, key: DpopKey, token: str, **overrides) -> str:
    return key.proof("GET", f"{verifier.url}/dashboard/", token=token, **overrides)


def refused(response, code: str, error: str) -> bool:
    return (
        response.status_code == 401
        and response.json()["code"] == code
        and response.headers["WWW-Authenticate"].startswith(f'DPoP error="{error}"')
        and 'algs="ES256 EdDSA"' in response.headers["WWW-Authenticate"]
    )


def test_verifier_accepts_a_bound_token_with_a_proof(site, verifier, bob, key):
    token = obtain(site[0], key)
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    for _ in range(2):  # a fresh proof for each request
        response = dashboard(verifier, token, proof(verifier, key, token))
        assert response.status_code == 200, response.text
        assert response.json()["message"] == "Access granted to bob"


def test_verifier_still_accepts_bearer_tokens(site, verifier, bob):
    assert dashboard(verifier, obtain(site[0]), scheme="Bearer").status_code == 200


def test_verifier_refuses_a_bound_token_as_bearer(site, verifier, bob, key):
    assert refused(dashboard(verifier, obtain(site[0], key), scheme="Bearer"), "token_not_valid", "invalid_token")


def test_verifier_refuses_a_bearer_token_with_the_dpop_scheme(site, verifier, bob, key):
    token = obtain(site[0])
    assert refused(dashboard(verifier, token, proof(verifier, key, token)), "token_not_valid", "invalid_token")


def test_verifier_refuses_a_proof_by_another_key(site, verifier, bob, key):
    token = obtain(site[0], key)
    other = DpopKey.generate(key.alg)
    assert refused(dashboard(verifier, token, proof(verifier, other, token)), "token_not_valid", "invalid_token")


HOSTILE = {
    "no proof": lambda verifier, key, token: None,
    "proof for authdemo's URL": lambda verifier, key, token: key.proof(
        "GET", "http://127.0.0.1:9/dashboard/", token=token
    ),
    "wrong htm": lambda verifier, key, token: proof(verifier, key, token, htm="POST"),
    "wrong ath": lambda verifier, key, token: proof(verifier, key, token, ath=access_token_hash("x")),
    "missing ath": lambda verifier, key, token: proof(verifier, key, token, ath=None),
    "stale iat": lambda verifier, key, token: proof(verifier, key, token, iat=time.time() - 120),
    "future iat": lambda verifier, key, token: proof(verifier, key, token, iat=time.time() + 60),
    "private jwk": lambda verifier, key, token: proof(verifier, key, token, header_jwk={**key.jwk(), "d": "AA"}),
    "not a JWT": lambda verifier, key, token: "a.b.c",
    "oversized": lambda verifier, key, token: proof(verifier, key, token, pad="x" * 5000),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_verifier_refuses_a_hostile_proof(site, verifier, bob, key, case):
    token = obtain(site[0], key)
    assert refused(
        dashboard(verifier, token, HOSTILE[case](verifier, key, token)), "invalid_dpop_proof", "invalid_dpop_proof"
    )


def with_two_proofs(url: str, token: str, proofs: list[str]) -> http.client.HTTPResponse:
    """GET `url` with one DPoP header per proof (requests would send one)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    connection.putrequest("GET", parts.path)
    connection.putheader("Authorization", f"DPoP {token}")
    for value in proofs:
        connection.putheader("DPoP", value)
    connection.endheaders()
    return connection.getresponse()


def test_verifier_refuses_two_dpop_headers(site, verifier, bob, key):
    token = obtain(site[0], key)
    response = with_two_proofs(f"{verifier.url}/dashboard/", token, [proof(verifier, key, token)] * 2)
    assert response.status == 401
    assert response.getheader("WWW-Authenticate").startswith('DPoP error="invalid_dpop_proof"')
    assert "Send exactly one DPoP header." in response.getheader("WWW-Authenticate")


def test_authdemo_on_gunicorn_refuses_two_dpop_headers(site, bob, key):
    token, url = obtain(site[0], key), f"{site[0].url}/api/dashboard/"
    first = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token=token)})
    nonce = first.headers["DPoP-Nonce"]
    response = with_two_proofs(url, token, [key.proof("GET", url, token=token, nonce=nonce) for _ in range(2)])
    assert response.status == 401
    assert response.getheader("WWW-Authenticate").startswith('DPoP error="invalid_dpop_proof"')
    assert "Send exactly one DPoP header." in response.getheader("WWW-Authenticate")


def test_verifier_takes_a_proof_once_across_its_threads(site, verifier, bob, key):
    """The replay store is the process's, behind a lock: of 8 concurrent uses, one passes."""
    token = obtain(site[0], key)
    once = proof(verifier, key, token)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: dashboard(verifier, token, once).status_code, range(8)))
    assert statuses == [200] + [401] * 7


def test_verifier_refuses_an_access_token_of_another_type(site, verifier, bob):
    claims = jwt.decode(obtain(site[0]), options={"verify_signature": False})
    active = keys.load_ring(site[1]).active
    retyped = jwt.encode(claims, active.private_key, algorithm="EdDSA", headers={"kid": active.kid, "typ": "dpop+jwt"})
    response = dashboard(verifier, retyped, scheme="Bearer")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")
