"""DPoP (RFC 9449) at the token endpoints and the resources, with real ES256 and Ed25519 keys."""

import sys
import time
import uuid

import jwt
import pytest
import time_machine
from django.core.cache import cache

from accounts.models import TokenFamily
from api import dpop
from harness.stack import free_port
from scripts.dpop_demo import DpopKey
from tests.factories import PASSWORD, UserFactory
from tests.support import ROOT, readme_script, run_readme_script
from verifier.dpop import access_token_hash, thumbprint

BASE = "http://testserver"  # what the test client's requests build_absolute_uri() to
LOGIN = {"username": "bob", "password": PASSWORD}


@pytest.fixture(params=["ES256", "EdDSA"])
def key(request) -> DpopKey:
    return DpopKey.generate(request.param)


@pytest.fixture(params=["locmem", "redis"])
def replay_store(request) -> str:
    """The replay store both ways: the default LocMem cache and real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def post(client, path: str, body: dict, proof: str | None = None):
    headers = {"HTTP_DPOP": proof} if proof is not None else {}
    return client.post(path, body, content_type="application/json", **headers)


def obtain(client, key: DpopKey) -> dict:
    response = post(client, "/api/token/", LOGIN, key.proof("POST", f"{BASE}/api/token/", nonce=dpop.nonce()))
    assert response.status_code == 200, response.content
    return response.json()


def dashboard(client, token: str, proof: str | None = None, scheme: str = "DPoP"):
    headers = {"HTTP_DPOP": proof} if proof is not None else {}
    return client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"{scheme} {token}", **headers)


def proof_for(key: DpopKey, token: str, **overrides) -> str:
    return key.proof("GET", f"{BASE}/api/dashboard/", nonce=dpop.nonce(), token=token, **overrides)


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_dpop_thumbprint_and_ath_match_the_rfc_vectors():
    """RFC 9449 examples (section 6.1 and 7.1)."""
    jwk = {"kty": "EC", "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
           "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA", "crv": "P-256"}  # fmt: skip
    assert thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_dpop_login_binds_both_tokens_to_the_key(client, bob, key, replay_store):
    pair = obtain(client, key)
    assert pair["token_type"] == "DPoP"
    assert claims(pair["access"])["cnf"] == {"jkt": thumbprint(key.jwk())}
    assert claims(pair["refresh"])["cnf"] == {"jkt": thumbprint(key.jwk())}


def test_dpop_bearer_login_answers_as_before(client, bob):
    response = post(client, "/api/token/", LOGIN)
    assert set(response.json()) == {"access", "refresh"}
    assert "cnf" not in claims(response.json()["access"])
    assert "DPoP-Nonce" not in response


def test_dpop_access_tokens_are_typed_at_jwt_for_every_client(client, bob, key):
    for pair in (post(client, "/api/token/", LOGIN).json(), obtain(client, key)):
        assert jwt.get_unverified_header(pair["access"])["typ"] == "at+jwt"
        assert jwt.get_unverified_header(pair["refresh"])["typ"] == "JWT"


def test_dpop_access_token_verifies_with_pyjwt_alone(client, bob, key, es256):
    from api import keys

    access = obtain(client, key)["access"]
    public = keys.load_ring().active.public_key
    decoded = jwt.decode(access, public, algorithms=["ES256"], audience="authdemo-api", issuer="authdemo")
    assert decoded["cnf"]["jkt"] == thumbprint(key.jwk())


def test_dpop_access_token_of_another_type_is_refused(client, bob, es256):
    from api import keys

    access = post(client, "/api/token/", LOGIN).json()["access"]
    active = keys.load_ring().active
    retyped = jwt.encode(
        claims(access), active.private_key, algorithm="ES256", headers={"kid": active.kid, "typ": "dpop+jwt"}
    )
    assert dashboard(client, retyped, scheme="Bearer").json()["code"] == "token_not_valid"


def test_dpop_login_without_nonce_is_told_the_nonce(client, bob, key):
    response = post(client, "/api/token/", LOGIN, key.proof("POST", f"{BASE}/api/token/"))
    assert response.status_code == 400
    assert response.json()["code"] == "use_dpop_nonce"
    retry = post(client, "/api/token/", LOGIN, key.proof("POST", f"{BASE}/api/token/", nonce=response["DPoP-Nonce"]))
    assert retry.status_code == 200
    assert retry["DPoP-Nonce"]


def test_dpop_login_with_a_stale_nonce_is_refused(client, bob, key):
    old = dpop.nonce()
    with time_machine.travel(time.time() + 2 * dpop.NONCE_WINDOW + 1):
        response = post(client, "/api/token/", LOGIN, key.proof("POST", f"{BASE}/api/token/", nonce=old))
    assert response.status_code == 400
    assert response.json()["code"] == "use_dpop_nonce"


def test_dpop_nonce_can_be_turned_off(client, bob, key, settings):
    settings.DPOP_NONCE = "off"
    assert post(client, "/api/token/", LOGIN, key.proof("POST", f"{BASE}/api/token/")).status_code == 200


def test_dpop_login_with_a_bad_proof_is_a_400(client, bob, key):
    response = post(client, "/api/token/", LOGIN, key.proof("GET", f"{BASE}/api/token/", nonce=dpop.nonce()))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The DPoP proof's htm is not this request's method.",
        "code": "invalid_dpop_proof",
    }


def test_dpop_refresh_with_the_key_keeps_the_binding(client, bob, key):
    pair = obtain(client, key)
    proof = key.proof("POST", f"{BASE}/api/token/refresh/", nonce=dpop.nonce())
    response = post(client, "/api/token/refresh/", {"refresh": pair["refresh"]}, proof)
    assert response.status_code == 200
    assert response.json()["token_type"] == "DPoP"
    assert claims(response.json()["access"])["cnf"] == {"jkt": thumbprint(key.jwk())}


@pytest.mark.parametrize("thief", ["another key", "no proof"])
def test_dpop_refresh_by_a_thief_is_refused_and_revokes_nothing(client, bob, key, thief):
    pair = obtain(client, key)
    stolen = DpopKey.generate().proof("POST", f"{BASE}/api/token/refresh/", nonce=dpop.nonce())
    response = post(
        client, "/api/token/refresh/", {"refresh": pair["refresh"]}, stolen if thief == "another key" else None
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"
    assert TokenFamily.objects.get().revoked_at is None
    proof = key.proof("POST", f"{BASE}/api/token/refresh/", nonce=dpop.nonce())
    assert post(client, "/api/token/refresh/", {"refresh": pair["refresh"]}, proof).status_code == 200


def test_dpop_bound_access_token_opens_the_dashboard(client, bob, key, replay_store):
    access = obtain(client, key)["access"]
    response = dashboard(client, access, proof_for(key, access))
    assert response.status_code == 200
    assert response.json()["message"] == "Access granted to bob"
    assert response["DPoP-Nonce"] == dpop.nonce()


def test_dpop_bound_token_sent_as_bearer_is_refused(client, bob, key):
    """RFC 9449 7.2: a stolen bound token is useless without the key."""
    access = obtain(client, key)["access"]
    response = dashboard(client, access, scheme="Bearer")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response["WWW-Authenticate"].startswith('DPoP error="invalid_token"')


def test_dpop_bound_token_in_the_database_variant_as_bearer_is_refused(client, bob, key):
    access = obtain(client, key)["access"]
    response = client.get("/api/dashboard/db/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 401


def test_dpop_bound_token_in_the_access_cookie_is_refused(client, bob, key, settings):
    client.cookies[settings.JWT_ACCESS_COOKIE] = obtain(client, key)["access"]
    assert client.get("/api/dashboard/").status_code == 401


def test_dpop_bearer_token_sent_with_the_dpop_scheme_is_refused(client, bob, key):
    access = post(client, "/api/token/", LOGIN).json()["access"]
    response = dashboard(client, access, proof_for(key, access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_dpop_bearer_clients_keep_their_challenge(client, bob):
    response = client.get("/api/dashboard/")
    assert response["WWW-Authenticate"] == 'Bearer realm="authdemo"'


def test_dpop_replayed_proof_is_refused(client, bob, key, replay_store):
    access = obtain(client, key)["access"]
    proof = proof_for(key, access)
    assert dashboard(client, access, proof).status_code == 200
    replayed = dashboard(client, access, proof)
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "This DPoP proof was used already."


@pytest.mark.parametrize("claim", ["jti", "ath"])
def test_dpop_claim_with_a_lone_surrogate_is_refused_not_a_500(client, bob, key, replay_store, claim):
    """JSON can carry "\\ud800", which no UTF-8 can hold (the replay key and compare_digest raised)."""
    access = obtain(client, key)["access"]
    response = dashboard(client, access, proof_for(key, access, **{claim: "\ud800"}))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_dpop_proof"


def test_dpop_login_with_a_lone_surrogate_jti_is_refused_not_a_500(client, bob, key, replay_store):
    proof = key.proof("POST", f"{BASE}/api/token/", nonce=dpop.nonce(), jti="\ud800")
    response = post(client, "/api/token/", LOGIN, proof)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpop_proof"


def hs256(key: DpopKey, token: str) -> str:
    body = {"jti": uuid.uuid4().hex, "htm": "GET", "htu": f"{BASE}/api/dashboard/", "iat": int(time.time()),
            "nonce": dpop.nonce(), "ath": access_token_hash(token)}  # fmt: skip
    return jwt.encode(body, "s" * 32, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": key.jwk()})


def unsigned(key: DpopKey, token: str) -> str:
    header, body, _ = proof_for(key, token).split(".")
    none = jwt.utils.base64url_encode(b'{"alg":"none","typ":"dpop+jwt"}').decode()
    return f"{none}.{body}."


HOSTILE = {
    "wrong htm": lambda key, token: proof_for(key, token, htm="POST"),
    "wrong htu": lambda key, token: proof_for(key, token, htu=f"{BASE}/api/me/"),
    "htu of another host": lambda key, token: proof_for(key, token, htu="http://evil.example/api/dashboard/"),
    "stale iat": lambda key, token: proof_for(key, token, iat=time.time() - 61),
    "future iat": lambda key, token: proof_for(key, token, iat=time.time() + 30),
    "missing ath": lambda key, token: proof_for(key, token, ath=None),
    "wrong ath": lambda key, token: proof_for(key, token, ath=access_token_hash(token + "x")),
    "alg none": unsigned,
    "HS256": hs256,
    "jwk with a private part": lambda key, token: proof_for(key, token, header_jwk={**key.jwk(), "d": "AAAA"}),
    "jwk that did not sign": lambda key, token: proof_for(key, token, header_jwk=DpopKey.generate(key.alg).jwk()),
    "typ jwt": lambda key, token: proof_for(key, token, header_typ="JWT"),
    "no jti": lambda key, token: proof_for(key, token, jti=None),
    "oversized": lambda key, token: proof_for(key, token, pad="x" * 4096),
    "not a JWT": lambda key, token: "not-a-jwt",
    "two DPoP headers": lambda key, token: f"{proof_for(key, token)}, {proof_for(key, token)}",
    "empty": lambda key, token: "",
    "jwk of another curve": lambda key, token: proof_for(key, token, header_jwk={**key.jwk(), "crv": "P-384"}),
    "jwk not on its curve": lambda key, token: proof_for(
        key, token, header_jwk={**key.jwk(), "x": key.jwk()["x"][::-1]}
    ),
    "claims not an object": lambda key, token: ".".join([proof_for(key, token).split(".")[0], "WzFd", "AAAA"]),
    "htu with a bad port": lambda key, token: proof_for(key, token, htu="http://testserver:99999/api/dashboard/"),
    "deeply nested header": lambda key, token: (
        jwt.utils.base64url_encode(b"[" * 1200 + b"]" * 1200).decode() + ".e30.AA"
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_dpop_hostile_proof_is_a_401(client, bob, key, case):
    access = obtain(client, key)["access"]
    response = dashboard(client, access, HOSTILE[case](key, access))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_dpop_proof"
    assert response["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    assert 'algs="ES256 EdDSA"' in response["WWW-Authenticate"]


def test_dpop_proof_by_another_key_is_refused(client, bob, key):
    access = obtain(client, key)["access"]
    response = dashboard(client, access, proof_for(DpopKey.generate(key.alg), access))
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_dpop_resource_without_nonce_is_told_the_nonce(client, bob, key):
    access = obtain(client, key)["access"]
    response = dashboard(client, access, key.proof("GET", f"{BASE}/api/dashboard/", token=access))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    retry = key.proof("GET", f"{BASE}/api/dashboard/", token=access, nonce=response["DPoP-Nonce"])
    assert dashboard(client, access, retry).status_code == 200


def test_dpop_resource_with_a_stale_nonce_is_refused(client, bob, key):
    access = obtain(client, key)["access"]
    proof = key.proof("GET", f"{BASE}/api/dashboard/", token=access, nonce=dpop.nonce(0))
    assert dashboard(client, access, proof).json()["code"] == "use_dpop_nonce"


def test_dpop_replay_mark_on_redis_is_what_cache_add_would_store(redis_cache):
    """first_use() sends add()'s SET NX EX itself: the same key, value and lifetime."""
    name = f"dpop-test:{uuid.uuid4().hex}"
    assert dpop.first_use(name, seconds=60) is True
    assert dpop.first_use(name, seconds=60) is False
    assert cache.get(name) == 1
    assert 55 <= cache.ttl(name) <= 60
    assert cache.add(name, 1, timeout=60) is False


def test_dpop_replay_store_down_is_a_503(client, bob, key, settings):
    """Fail closed: with the store unreachable no proof is accepted unchecked."""
    access = obtain(client, key)["access"]
    dead = {
        **settings.CACHES["default"],
        "BACKEND": "django_redis.cache.RedisCache",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1},
    }
    settings.CACHES = {**settings.CACHES, "default": {**dead, "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    response = dashboard(client, access, proof_for(key, access))
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def test_dpop_readme_walkthrough_states_what_it_expects():
    assert len([line for line in readme_script("### Theft: DPoP").splitlines() if line.startswith("# => ")]) >= 5


@pytest.mark.server
def test_dpop_readme_walkthrough_runs_as_written(app_server, transactional_db, tmp_path):
    UserFactory(username="bob", password="bob-demo-pass")
    proof = f"{sys.executable} {ROOT / 'scripts' / 'dpop_demo.py'}"
    run_readme_script(readme_script("### Theft: DPoP"), cwd=tmp_path, BASE=app_server.url, PROOF=proof)
