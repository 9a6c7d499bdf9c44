"""Every bad or missing token: a JSON 401 with a stable code and a Bearer challenge.

References: RFC 8725 (JWT BCP) 2.1 and 3.1 (algorithms), 3.8-3.11 (issuer, audience,
explicit typing, confusion); RFC 7519 4.1 (registered claims); OWASP JWT cheat sheet.
"""

import time

import jwt
import pytest
from django.conf import settings

KEY = settings.SIMPLE_JWT["SIGNING_KEY"]


def claims(uid: int, **overrides):
    now = int(time.time())
    base = {
        "token_type": "access", "exp": now + 300, "iat": now, "jti": "a" * 32, "user_id": uid,
        "username": "bob", "iss": "authdemo", "aud": "authdemo-api",
    }  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def forge(payload, key=KEY, algorithm="HS256", headers=None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def call(client, token: str):
    return client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_refused(response, code="token_not_valid"):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


def test_forged_token_with_our_key_is_accepted(client, bob):
    """The control case: the forging helper makes tokens the API accepts."""
    assert call(client, forge(claims(bob.pk))).status_code == 200


CASES = {
    "wrong signature (RFC 8725 3.1)": lambda uid: forge(claims(uid), key="another-key-" * 4),
    "alg none (RFC 8725 2.1)": lambda uid: jwt.encode(claims(uid), None, algorithm="none"),
    "HS512 instead of HS256 (RFC 8725 3.1)": lambda uid: forge(claims(uid), algorithm="HS512"),
    "expired (RFC 7519 4.1.4)": lambda uid: forge(claims(uid, exp=int(time.time()) - 60)),
    "no exp (RFC 7519 4.1.4)": lambda uid: forge(claims(uid, exp=None)),
    "wrong issuer (RFC 8725 3.8)": lambda uid: forge(claims(uid, iss="evil")),
    "no issuer (RFC 8725 3.8)": lambda uid: forge(claims(uid, iss=None)),
    "wrong audience (RFC 8725 3.9)": lambda uid: forge(claims(uid, aud="other-api")),
    "no audience (RFC 8725 3.9)": lambda uid: forge(claims(uid, aud=None)),
    "refresh token as access (RFC 8725 3.11)": lambda uid: forge(claims(uid, token_type="refresh")),
    "no token type (RFC 8725 3.11)": lambda uid: forge(claims(uid, token_type=None)),
    "no jti": lambda uid: forge(claims(uid, jti=None)),
    "no user id": lambda uid: forge(claims(uid, user_id=None)),
    "iat not a number": lambda uid: forge(claims(uid, iat="yesterday")),
    "not yet valid (nbf)": lambda uid: forge(claims(uid, nbf=int(time.time()) + 3600)),
    "garbage": lambda uid: "not.a.token",
    "empty segments": lambda uid: "..",
    "oversized": lambda uid: "a" * 10_000,
    "non-ascii": lambda uid: "ключ.ключ.ключ",
}


@pytest.mark.parametrize("case", CASES)
def test_bad_access_token_is_refused(client, bob, case):
    token = CASES[case](bob.pk)
    response = call(client, token.encode().decode("latin-1"))
    expected = "token_expired" if case.startswith("expired") else "token_not_valid"
    assert_refused(response, expected)
    assert token not in response.content.decode()


def test_key_urls_in_headers_are_never_fetched(client, bob, httpserver_url="http://127.0.0.1:9/jwks.json"):
    """RFC 8725 3.10 / OWASP: jku, x5u and kid must not choose or fetch a key."""
    headers = {"jku": httpserver_url, "x5u": httpserver_url, "kid": "../../etc/passwd"}
    token = forge(claims(bob.pk), key="attacker-key-" * 4, headers=headers)
    assert_refused(call(client, token))


def test_missing_token_is_a_401_with_challenge(client, db):
    response = client.get("/api/dashboard/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="authdemo"'
    assert response.json()["code"] == "not_authenticated"


def test_malformed_authorization_header_is_refused(client, db):
    response = client.get("/api/dashboard/", HTTP_AUTHORIZATION="Bearer a b c")
    assert response.status_code == 401
    assert response.json()["code"] == "bad_authorization_header"


def test_token_for_deleted_user_is_refused_everywhere(client, api_login, bob):
    pair = api_login(bob)
    bob.delete()
    assert client.get("/api/dashboard/db/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401
    response = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert_refused(response)


def test_token_for_deactivated_user_is_refused(client, api_login, bob):
    pair = api_login(bob)
    bob.is_active = False
    bob.save()
    assert_refused(call(client, pair["access"]), "token_revoked")
    response = client.post("/api/token/refresh/", {"refresh": pair["refresh"]}, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "parse_error"),
        (b"\xff\xfe", "parse_error"),
        (b"[]", "invalid"),
        (b'{"refresh": ""}', "invalid"),
        (b'{"refresh": null}', "invalid"),
        (b'{"nope": 1}', "invalid"),
    ],
)
def test_malformed_refresh_bodies_get_json_errors(client, db, body, code):
    response = client.post("/api/token/refresh/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_refresh_that_is_not_a_token_is_refused_as_invalid(client, db):
    # A number is read as a string (DRF's CharField), so this is a token that does not parse.
    response = client.post("/api/token/refresh/", b'{"refresh": 5}', content_type="application/json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_oversized_credentials_are_a_400(client, db):
    response = client.post(
        "/api/token/", {"username": "u" * 5000, "password": "p" * 5000}, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}
