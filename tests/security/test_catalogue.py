"""The attack catalogue: each case names the standard it comes from.

RFC 8725 (JWT BCP), RFC 9700 4.14 (refresh tokens), RFC 9449 (DPoP), OWASP ASVS 5.0 V7
(sessions) and V9 (self-contained tokens), OWASP Session Management and JWT cheat sheets. Token-format
cases are in tests/api/test_token_errors.py; lockout in test_brute_force.py.
"""

import pytest
import requests
from django.conf import settings
from django.test import Client

from accounts.vocabulary import SIGNED_COOKIES
from api import dpop
from scripts.dpop_demo import DpopKey
from tests.factories import PASSWORD, UserFactory


def test_csp_forbids_inline_script_and_framing(client, db):
    """OWASP ASVS V3.4.3: a Content Security Policy without unsafe-inline."""
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_pages_carry_security_headers(client, db):
    """OWASP Secure Headers: nosniff, no framing, a strict referrer policy."""
    response = client.get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_credentialed_cors_is_never_granted(client, api_login, bob):
    """OWASP ASVS V3.4.2 / RFC 8725 3.x: no other origin may read authenticated answers."""
    pair = api_login(bob)
    response = client.get("/api/me/", HTTP_ORIGIN="https://evil.example", HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response
    preflight = client.options("/api/me/", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")
    assert "Access-Control-Allow-Origin" not in preflight


def test_cross_site_session_write_is_refused(alice):
    """OWASP Session Management (CSRF): a forged form post with the victim's cookie fails."""
    victim = Client(enforce_csrf_checks=True)
    victim.force_login(alice)
    response = victim.post("/accounts/sessions/everywhere/", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403


def test_cross_site_cookie_token_write_is_refused(bob):
    """A JWT in a cookie needs CSRF protection like a session (OWASP JWT cheat sheet)."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/spa/")
    token = browser.cookies["csrftoken"].value
    browser.post("/api/cookie/login/", {"username": "bob", "password": PASSWORD},
                 content_type="application/json", HTTP_X_CSRFTOKEN=token)  # fmt: skip
    forged = browser.post("/api/cookie/logout/", content_type="application/json", HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403


def test_logout_by_get_does_nothing(client, alice, login):
    """OWASP ASVS V7.4.1: logout is a state change, so never a GET (also img-tag CSRF)."""
    login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/api/cookie/logout/").status_code == 405
    assert client.get("/accounts/profile/").status_code == 200


def test_a_session_cookie_carrying_a_nul_is_anonymous(client, db, session_engine, settings):
    """A cookie can carry any byte (quoted, `\\000` is a NUL): a key Django never makes is no
    session, not a database error. PostgreSQL refuses a NUL in a text parameter, so on
    PostgreSQL the db and cached_db stores would answer with an error without the key check."""
    cookie = f'{settings.SESSION_COOKIE_NAME}="\\000abcdefgh"'
    assert client.get("/accounts/profile/", HTTP_COOKIE=cookie).status_code == 302
    assert client.get("/", HTTP_COOKIE=cookie).status_code == 200


def test_session_cookie_forged_with_another_secret_is_anonymous(client, alice, settings, use_engine):
    """OWASP Session Management: a signed-cookie session signed with any other key is void."""
    from django.core import signing

    use_engine(SIGNED_COOKIES)
    forged = signing.dumps(
        {"_auth_user_id": str(alice.pk)}, key="x" * 50, salt="django.contrib.sessions.backends.signed_cookies",
        serializer=signing.JSONSerializer, compress=True,
    )  # fmt: skip
    client.cookies[settings.SESSION_COOKIE_NAME] = forged
    assert client.get("/accounts/profile/").status_code == 302


def test_signed_cookie_session_dies_with_a_password_change(client, alice, login, use_engine):
    """ASVS V7.4.3: changing the password ends other sessions, even ones the server can't delete."""
    use_engine(SIGNED_COOKIES)
    stolen = Client()
    stolen.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    alice.set_password("another-long-pass-99")
    alice.save()
    assert stolen.get("/accounts/profile/").status_code == 302


@pytest.mark.server
def test_no_token_or_secret_reaches_answers_or_logs(app_server, transactional_db):
    """OWASP Logging cheat sheet, RFC 8725 3.x: credentials never appear in logs or errors."""
    UserFactory(username="dora")
    base = app_server.url
    pair = requests.post(f"{base}/api/token/", json={"username": "dora", "password": PASSWORD}, timeout=10).json()
    bodies = [
        requests.post(f"{base}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10).text,
        requests.post(f"{base}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10).text,
        requests.get(f"{base}/api/dashboard/", headers={"Authorization": f"Bearer {pair['access']}x"}).text,
        requests.post(f"{base}/api/token/verify/", json={"token": pair["access"][:-3]}, timeout=10).text,
        requests.post(f"{base}/api/token/", json={"username": "dora", "password": "wrong-" + PASSWORD}).text,
    ]
    log = app_server.log.read_text()
    secrets = [pair["access"], pair["refresh"], PASSWORD, settings.SECRET_KEY, settings.SIMPLE_JWT["SIGNING_KEY"]]
    for secret in secrets:
        assert all(secret not in body for body in bodies)
        assert secret not in log
    signature = pair["refresh"].rsplit(".", 1)[1]
    assert signature not in log


def _dpop_login(client, key: DpopKey) -> dict:
    proof = key.proof("POST", "http://testserver/api/token/", nonce=dpop.nonce())
    body = {"username": "bob", "password": PASSWORD}
    return client.post("/api/token/", body, content_type="application/json", HTTP_DPOP=proof).json()


def test_stolen_dpop_bound_tokens_are_useless_without_the_key(client, bob):
    """RFC 9449 7.2 and 5: a thief holding both tokens but not the key gets nothing, and
    revokes nothing: the real client refreshes afterwards."""
    key = DpopKey.generate()
    pair = _dpop_login(client, key)
    assert client.get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 401
    thief = DpopKey.generate().proof("POST", "http://testserver/api/token/refresh/", nonce=dpop.nonce())
    body = {"refresh": pair["refresh"]}
    stolen = client.post("/api/token/refresh/", body, content_type="application/json", HTTP_DPOP=thief)
    assert stolen.status_code == 400
    proof = key.proof("POST", "http://testserver/api/token/refresh/", nonce=dpop.nonce())
    assert client.post("/api/token/refresh/", body, content_type="application/json", HTTP_DPOP=proof).status_code == 200


def test_a_dpop_proof_is_good_for_one_request(client, bob):
    """RFC 9449 11.1: a proof copied from one request is refused on the next."""
    key = DpopKey.generate("EdDSA")
    access = _dpop_login(client, key)["access"]
    proof = key.proof("GET", "http://testserver/api/dashboard/", nonce=dpop.nonce(), token=access)
    headers = {"HTTP_AUTHORIZATION": f"DPoP {access}", "HTTP_DPOP": proof}
    assert client.get("/api/dashboard/", **headers).status_code == 200
    assert client.get("/api/dashboard/", **headers).status_code == 401


# -- CORS: one origin, never reflected, never a wildcard (crosssite/, README "Cross-site clients") --------
# OWASP ASVS 5.0 V3.4.2, and PortSwigger's CORS misconfigurations: a reflected Origin, `null`, and
# origins matched by prefix, suffix or substring instead of exactly.
def look_alike_origins() -> list[str]:
    origin = settings.CROSS_SITE_ORIGIN  # http://localhost:PORT
    scheme, rest = origin.split("://")
    host, _, port = rest.partition(":")
    return [
        "https://evil.example",
        "null",  # sandboxed iframes and file: pages send it
        f"{origin}.evil.example",  # the allowed origin as a prefix
        f"{scheme}://evil{host}:{port}",  # as a suffix
        f"{scheme}://{host}.evil.example:{port}",
        f"{scheme}://{host}:{int(port or 80) + 1}",  # another port of the same host
        f"{'https' if scheme == 'http' else 'http'}://{rest}",  # another scheme
        f"{scheme}://127.0.0.1:{port}",  # the API's own site is not a CORS client
        f"{origin}@evil.example",
    ]


@pytest.mark.parametrize("index", range(9))
def test_cors_refuses_a_forged_or_look_alike_origin(client, api_login, bob, settings, index):
    settings.CORS_ALLOW_CREDENTIALS = True  # the cross-site cookie ways' configuration: still one origin
    forged = look_alike_origins()[index]
    pair = api_login(bob)

    answer = client.get("/api/me/", HTTP_ORIGIN=forged, HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    preflight = client.options("/api/me/", HTTP_ORIGIN=forged, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")

    for response in (answer, preflight):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


def test_cors_grants_exactly_the_cross_site_origin_and_never_a_wildcard(client, db, settings):
    settings.CORS_ALLOW_CREDENTIALS = True
    preflight = client.options("/api/dashboard/", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN,
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,dpop")  # fmt: skip

    assert preflight["Access-Control-Allow-Origin"] == settings.CROSS_SITE_ORIGIN
    assert preflight["Access-Control-Allow-Credentials"] == "true"
    assert "origin" in preflight["Vary"].lower()  # a cache must not hand one origin's grant to another


def test_cors_grants_no_credentials_unless_configured(client, db, settings):
    assert settings.CORS_ALLOW_CREDENTIALS is False  # the default: the bearer and DPoP ways need none
    preflight = client.options("/api/dashboard/", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN,
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET")  # fmt: skip

    assert preflight["Access-Control-Allow-Origin"] == settings.CROSS_SITE_ORIGIN
    assert "Access-Control-Allow-Credentials" not in preflight


def test_cors_is_not_offered_on_the_sites_pages(client, db, settings):
    response = client.get("/accounts/login/", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("forged", [None, "null", "https://evil.example", "http://localhost.evil.example"])
def test_cross_site_cookie_login_refuses_another_origin(client, bob, forged):
    """Login CSRF: the cross-site cookie logins take only the one trusted Origin, exactly."""
    extra = {} if forged is None else {"HTTP_ORIGIN": forged}
    response = client.post("/crosssite/api/session/login/?cookie=none", {"username": "bob", "password": PASSWORD},
                           content_type="application/json", **extra)  # fmt: skip

    assert (response.status_code, response.json()["code"]) == (403, "origin_not_trusted")
    assert settings.SESSION_COOKIE_NAME not in response.cookies
