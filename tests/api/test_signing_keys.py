"""Asymmetric signing: kid thumbprints, strict validation, the key set, rotation with time travel."""

import subprocess
import sys
from datetime import timedelta

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from django.core.management import CommandError, call_command
from django.utils import timezone

from api import keys
from tests.factories import PASSWORD, hmac_token, unsigned_token
from tests.support import ROOT, use_key_ring


def bearer(client, token: str):
    return client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {token}")


def refused_as(response, code: str = "token_not_valid") -> bool:
    return response.status_code == 401 and response.json()["code"] == code and "WWW-Authenticate" in response


def access_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def public_pem(settings) -> bytes:
    public = keys.load_ring().active.public_key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_asymmetric_access_token_authenticates(client, api_login, bob, asymmetric):
    token = api_login(bob)["access"]
    assert jwt.get_unverified_header(token)["alg"] == asymmetric
    assert bearer(client, token).json()["message"] == "Access granted to bob"


def test_token_kid_is_the_rfc7638_thumbprint_of_the_active_key(api_login, bob, asymmetric):
    kid = jwt.get_unverified_header(api_login(bob)["access"])["kid"]
    assert kid == keys.load_ring().active.kid == keys.thumbprint(keys.load_ring().active.public_jwk())


def test_rfc7638_thumbprint_matches_the_rfcs_example():
    """RFC 7638 section 3.1: the example RSA key's thumbprint."""
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgd"
        "AZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFC"
        "ur-kEgU8awapJzKnqDKgw"
    )
    assert keys.thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


def test_hs256_tokens_carry_the_secrets_thumbprint(api_login, bob, settings):
    header = jwt.get_unverified_header(api_login(bob)["access"])
    assert header == {"alg": "HS256", "typ": "at+jwt", "kid": keys.secret_kid(settings.SIMPLE_JWT["SIGNING_KEY"])}


def test_asymmetric_refresh_rotation_and_replay_keep_the_family_rules(client, api_login, bob, asymmetric, settings):
    pair = api_login(bob)
    rotated = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert rotated.status_code == 200
    with time_machine.travel(timezone.now() + settings.JWT_REFRESH_REUSE_INTERVAL + timedelta(seconds=1)):
        replay = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
        assert refused_as(replay, "token_reused")
        again = client.post(
            "/api/token/refresh/", {"refresh": rotated.json()["refresh"]}, content_type="application/json"
        )
        assert refused_as(again, "token_revoked")


def test_asymmetric_refresh_replayed_within_the_reuse_interval_gets_a_working_current_pair(
    client, api_login, bob, asymmetric
):
    pair = api_login(bob)
    rotated = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    again = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")

    assert again.status_code == 200
    assert bearer(client, again.json()["access"]).status_code == 200
    onward = client.post("/api/token/refresh/", {"refresh": again.json()["refresh"]}, content_type="application/json")
    assert onward.status_code == 200, rotated.json()


def test_asymmetric_cutoff_revokes_live_access_tokens(client, api_login, bob, asymmetric):
    from accounts.services import revoke_everything

    token = api_login(bob)["access"]
    assert bearer(client, token).status_code == 200
    revoke_everything(user=bob, reason="test")
    assert refused_as(bearer(client, token), "token_revoked")


def test_alg_none_token_is_refused(client, bob, es256, api_login):
    claims = access_claims(api_login(bob)["access"])
    assert refused_as(bearer(client, unsigned_token(claims, kid=keys.load_ring().active.kid)))


def test_hs256_token_made_with_the_public_key_is_refused(client, bob, es256, api_login, settings):
    """CVE-2022-29217: an attacker signs HS256 with the published public key as the secret."""
    claims = access_claims(api_login(bob)["access"])
    header = {"alg": "HS256", "typ": "JWT", "kid": keys.load_ring().active.kid}
    assert refused_as(bearer(client, hmac_token(header, claims, public_pem(settings))))


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk"])
def test_token_naming_its_own_key_is_refused(client, bob, es256, api_login, name):
    """RFC 8725 3.10: a key or key URL inside the token must never choose the key, even our own."""
    ring = keys.load_ring()
    claims = access_claims(api_login(bob)["access"])
    value = ring.active.public_jwk() if name == "jwk" else "http://127.0.0.1:9/jwks.json"
    token = jwt.encode(
        claims, ring.active.private_key, algorithm="ES256", headers={"kid": ring.active.kid, name: value}
    )
    assert refused_as(bearer(client, token))


def test_token_with_an_unknown_kid_is_refused(client, bob, es256, api_login):
    ring = keys.load_ring()
    claims = access_claims(api_login(bob)["access"])
    token = jwt.encode(claims, ring.active.private_key, algorithm="ES256", headers={"kid": "not-a-key-of-ours"})
    assert refused_as(bearer(client, token))


def test_token_signed_with_a_foreign_key_under_our_kid_is_refused(client, bob, es256, api_login, tmp_path):
    claims = access_claims(api_login(bob)["access"])
    other = tmp_path / "foreign"
    kid = keys.generate_key(directory=other, algorithm="ES256")
    token = jwt.encode(claims, keys.load_ring(other).keys[kid].private_key, algorithm="ES256",
                       headers={"kid": keys.load_ring().active.kid})  # fmt: skip
    assert refused_as(bearer(client, token))


def test_token_of_another_algorithm_is_refused(client, bob, settings, tmp_path, api_login):
    """A valid RS256 token of ours is refused once the site is configured for ES256."""
    use_key_ring(settings, tmp_path / "rs", "RS256")
    token = api_login(bob)["access"]
    use_key_ring(settings, tmp_path / "es", "ES256")
    assert refused_as(bearer(client, token))


# -- the published key set ----------------------------------------------------------------------


def test_jwks_publishes_public_keys_only(client, asymmetric):
    body = client.get("/.well-known/jwks.json").json()
    assert [key["kid"] for key in body["keys"]] == [keys.load_ring().active.kid]
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(body["keys"][0])


def test_jwks_is_cacheable_with_max_age_and_etag(client, es256, settings):
    response = client.get("/.well-known/jwks.json")
    assert f"max-age={settings.JWKS_MAX_AGE}" in response["Cache-Control"]
    revalidated = client.get("/.well-known/jwks.json", HTTP_IF_NONE_MATCH=response["ETag"])
    assert revalidated.status_code == 304


def test_jwks_etag_changes_when_a_key_is_published(client, es256, settings):
    before = client.get("/.well-known/jwks.json")["ETag"]
    keys.generate_key(directory=settings.JWT_KEYS_DIR, algorithm="ES256")
    assert client.get("/.well-known/jwks.json")["ETag"] != before


def test_jwks_is_empty_for_hs256(client, db):
    assert client.get("/.well-known/jwks.json").json() == {"keys": []}


def test_jwks_key_verifies_an_issued_token(client, api_login, bob, asymmetric):
    jwk = client.get("/.well-known/jwks.json").json()["keys"][0]
    token = api_login(bob)["access"]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[asymmetric], audience="authdemo-api")
    assert claims["username"] == "bob"


# -- rotation, with time travel -------------------------------------------------------------------


def rotate(settings) -> str:
    """Publish a next key and activate it (the old one is retired); return the new kid."""
    kid = keys.generate_key(directory=settings.JWT_KEYS_DIR, algorithm=settings.SIMPLE_JWT["ALGORITHM"])
    keys.activate_key(directory=settings.JWT_KEYS_DIR, kid=kid, algorithm=settings.SIMPLE_JWT["ALGORITHM"])
    return kid


def test_rotation_signs_new_tokens_with_the_new_key(api_login, bob, es256, settings):
    kid = rotate(settings)
    assert jwt.get_unverified_header(api_login(bob)["access"])["kid"] == kid


def test_retired_keys_tokens_work_until_they_expire(client, api_login, bob, es256, settings):
    token = api_login(bob)["access"]
    rotate(settings)
    with time_machine.travel(timezone.now() + timedelta(minutes=4)):
        assert bearer(client, token).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=11)):
        assert refused_as(bearer(client, token), "token_expired")


def test_retired_key_stays_published_until_its_last_token_can_expire(client, es256, settings):
    old = keys.load_ring().active.kid
    rotate(settings)
    published = lambda: [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]  # noqa: E731
    assert old in published()
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=11)):
        assert old not in published()


def test_retired_keys_refresh_token_still_rotates(client, api_login, bob, es256, settings):
    pair = api_login(bob)
    new_kid = rotate(settings)
    response = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert jwt.get_unverified_header(response.json()["access"])["kid"] == new_kid


def test_removed_keys_tokens_are_not_valid(client, api_login, bob, es256, settings):
    token = api_login(bob)["access"]
    old = keys.load_ring().active.kid
    assert bearer(client, token).status_code == 200  # now remembered as verified
    rotate(settings)
    keys.remove_key(directory=settings.JWT_KEYS_DIR, kid=old, force=True)
    assert refused_as(bearer(client, token))


def test_remove_refuses_a_key_that_may_have_live_tokens(es256, settings):
    old = keys.load_ring().active.kid
    rotate(settings)
    with pytest.raises(keys.KeyFileError, match="may still have live tokens"):
        keys.remove_key(directory=settings.JWT_KEYS_DIR, kid=old)


# -- the command and bad key files ---------------------------------------------------------------


def test_jwt_keys_command_generates_activates_and_lists(settings, tmp_path, capsys):
    settings.SIMPLE_JWT, settings.JWT_KEYS_DIR = {**settings.SIMPLE_JWT, "ALGORITHM": "EdDSA"}, tmp_path
    call_command("jwt_keys", "generate")
    kid = capsys.readouterr().out.strip()
    call_command("jwt_keys", "activate", kid)
    call_command("jwt_keys", "list")
    assert capsys.readouterr().out.split()[:3] == [kid, "EdDSA", "active"]


@pytest.mark.parametrize("kid", ["-" + "A" * 42, "--" + "f" * 41, "-h" + "x" * 41])
@pytest.mark.parametrize(
    "args", [("activate", "KID"), ("retire", "KID"), ("remove", "KID", "--force"), ("remove", "--force", "KID")]
)
def test_jwt_keys_command_takes_a_kid_that_begins_with_a_dash(settings, tmp_path, kid, args):
    """A thumbprint is base64url: one in 64 begins with "-", which argparse reads as an option."""
    settings.SIMPLE_JWT, settings.JWT_KEYS_DIR = {**settings.SIMPLE_JWT, "ALGORITHM": "EdDSA"}, tmp_path
    call_command("jwt_keys", "generate")
    with pytest.raises(CommandError, match=f"no key {kid} in"):
        call_command("jwt_keys", *(kid if arg == "KID" else arg for arg in args))


def test_private_key_file_is_readable_by_its_owner_only(es256, settings):
    path = settings.JWT_KEYS_DIR / f"{keys.load_ring().active.kid}.pem"
    assert path.stat().st_mode & 0o077 == 0


def test_malformed_key_file_fails_the_system_check(es256, settings):
    from api.key_checks import check_signing_keys

    (settings.JWT_KEYS_DIR / f"{keys.load_ring().active.kid}.pem").write_text("not a key")
    state = settings.JWT_KEYS_DIR / keys.STATE_FILE
    state.write_text(state.read_text() + " ")  # the ring is re-read when keys.json changes
    [error] = check_signing_keys()
    assert error.id == "api.E010" and "is not an unencrypted PEM private key" in error.msg


@pytest.mark.parametrize("entry", ["authdemo.wsgi", "authdemo.asgi"])
def test_server_with_a_malformed_key_file_stops_with_one_line(es256, settings, entry):
    kid = keys.load_ring().active.kid
    (settings.JWT_KEYS_DIR / f"{kid}.pem").write_text("not a key")
    env = {"PATH": "/usr/bin:/bin", "JWT_ALGORITHM": "ES256", "JWT_KEYS_DIR": str(settings.JWT_KEYS_DIR)}
    result = subprocess.run([sys.executable, "-c", f"import {entry}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"authdemo: configuration error: (api.E010) JWT_KEYS_DIR: {kid}.pem is not an unencrypted PEM private key."
    ]


# -- the key ring changed under a running site: refused by jwt_keys, a clear 503 otherwise -------


def test_retire_refuses_the_active_key(es256, settings):
    with pytest.raises(keys.KeyFileError, match="is active: it is retired by activating its successor"):
        keys.retire_key(directory=settings.JWT_KEYS_DIR, kid=keys.load_ring().active.kid)


def test_retire_withdraws_a_next_key(es256, settings):
    kid = keys.generate_key(directory=settings.JWT_KEYS_DIR, algorithm="ES256")
    keys.retire_key(directory=settings.JWT_KEYS_DIR, kid=kid)
    assert keys.load_ring().keys[kid].status == keys.RETIRED


def test_activate_refuses_a_key_of_another_algorithm(es256, settings):
    kid = keys.generate_key(directory=settings.JWT_KEYS_DIR, algorithm="RS256")
    with pytest.raises(keys.KeyFileError, match="is RS256 but JWT_ALGORITHM=ES256"):
        keys.activate_key(directory=settings.JWT_KEYS_DIR, kid=kid, algorithm=settings.SIMPLE_JWT["ALGORITHM"])
    assert keys.load_ring().active.algorithm == "ES256"


def test_jwt_keys_activate_command_checks_the_configured_algorithm(es256, settings):
    kid = keys.generate_key(directory=settings.JWT_KEYS_DIR, algorithm="EdDSA")
    with pytest.raises(CommandError, match="JWT_ALGORITHM=ES256"):
        call_command("jwt_keys", "activate", kid)


def without_an_active_key(settings) -> None:
    """What an operator's hand edit of keys.json can still do: no key signs."""
    state = settings.JWT_KEYS_DIR / keys.STATE_FILE
    state.write_text(state.read_text().replace('"active"', '"next"'))


def test_login_without_an_active_key_is_a_json_503(client, bob, es256, settings):
    without_an_active_key(settings)
    client.raise_request_exception = False
    response = client.post("/api/token/", {"username": "bob", "password": PASSWORD}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (503, "signing_unavailable")


def test_login_with_a_key_of_another_algorithm_is_a_json_503(client, bob, es256, settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ALGORITHM": "RS256"}  # the configuration changed, the ring did not
    client.raise_request_exception = False
    response = client.post("/api/token/", {"username": "bob", "password": PASSWORD}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (503, "signing_unavailable")


def test_revocation_feed_without_an_active_key_is_a_json_503(client, db, es256, settings):
    without_an_active_key(settings)
    settings.REVOCATION_FEED_TOKENS = ["t" * 32]  # a verifier's credential: the feed is read, then signed
    client.raise_request_exception = False
    response = client.get("/api/revocations/", HTTP_AUTHORIZATION=f"Bearer {'t' * 32}")
    assert (response.status_code, response.json()["code"]) == (503, "signing_unavailable")


def test_page_with_an_unreadable_key_ring_is_a_readable_503(client, api_login, bob, es256, settings):
    client.post("/api/cookie/login/", {"username": "bob", "password": PASSWORD}, content_type="application/json")
    (settings.JWT_KEYS_DIR / f"{keys.load_ring().active.kid}.pem").unlink()
    without_an_active_key(settings)  # keys.json changes: the ring is re-read
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 503 and response["Content-Type"].startswith("text/html")
    assert b"cannot sign tokens right now" in response.content and b"Traceback" not in response.content
