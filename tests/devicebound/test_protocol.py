"""DBSC at the protocol level: the test client plays Chromium 156's part with a real key."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from accounts import vocabulary
from accounts.http import OUTAGES
from accounts.models import UserSession
from devicebound import services
from devicebound.client import DeviceKey, b64url, challenge_of
from devicebound.models import DeviceBinding
from tests.factories import PASSWORD
from tests.support import replica_paused

# -- the whole flow ----------------------------------------------------------------------------


def test_login_over_https_offers_registration(dbsc_browser, alice):
    browser = dbsc_browser()
    response = browser.client.post("/accounts/login/", {"username": "alice", "password": "x"}, secure=True)
    assert services.REGISTRATION_HEADER not in response  # a failed login offers nothing
    browser.log_in(alice)
    assert browser.registration["path"] == "/dbsc/register/"
    assert len(browser.registration["challenge"]) >= 43


def test_login_header_lists_the_algorithms_as_an_inner_list(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-battery-staple"}, secure=True
    )
    assert response[services.REGISTRATION_HEADER].startswith('(ES256 RS256);path="/dbsc/register/";challenge="')


def test_login_over_plain_http_offers_nothing(client, alice, login):
    assert services.REGISTRATION_HEADER not in login(alice)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_registration_binds_the_session_and_sets_the_bound_cookie(dbsc_browser, alice, algorithm):
    browser = dbsc_browser(algorithm)
    browser.log_in(alice)
    response = browser.register()
    assert response.status_code == 200
    config = response.json()
    binding = DeviceBinding.objects.get()
    assert config["session_identifier"] == str(binding.pk)
    assert config["refresh_url"] == "/dbsc/refresh/"
    assert config["scope"] == {"origin": "https://testserver", "include_site": False}
    assert config["credentials"] == [
        {"type": "cookie", "name": services.cookie_name(), "attributes": "Path=/; HttpOnly; SameSite=Lax"}
    ]
    assert binding.session == UserSession.objects.get(user=alice)
    assert binding.algorithm == algorithm and binding.public_jwk == browser.key.jwk
    cookie = response.cookies[services.cookie_name()]
    assert cookie["max-age"] == settings.DBSC_COOKIE_AGE and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert browser.session_cookie not in cookie.value  # the bound cookie never names the session key
    assert response["Cache-Control"].startswith("max-age=0")


def test_bound_session_with_its_cookie_is_logged_in(bound):
    assert bound.page().status_code == 200


def test_sessions_page_and_admin_show_device_bound(bound, dbsc_browser, alice, staff):
    other = dbsc_browser()
    other.log_in(alice)  # a second session of alice's that never registers
    page = bound.page("/accounts/sessions/").content.decode()
    assert page.count(">device-bound</span>") == 1
    admin = Client()
    admin.force_login(staff)
    changelist = admin.get("/admin/accounts/usersession/").content.decode()
    assert changelist.count('class="field-device_bound"><img src="/static/admin/img/icon-yes') == 1
    # alice's other session and the admin's own are not bound
    assert changelist.count('class="field-device_bound"><img src="/static/admin/img/icon-no') == 2


def test_refresh_without_proof_answers_403_with_a_challenge(bound):
    response = bound.post("/dbsc/refresh/", session_id=bound.session_id)
    assert response.status_code == 403
    header = response[services.CHALLENGE_HEADER]
    assert header == f'"{challenge_of(header)}";id="{bound.session_id}"'
    assert response.json()["code"] == "challenge_required"


@pytest.mark.parametrize("quoted", [False, True], ids=["bare", "quoted"])
def test_refresh_with_proof_sets_a_fresh_bound_cookie(bound, quoted):
    before = bound.client.cookies[services.cookie_name()].value
    proof = bound.key.refresh_proof(bound.challenge())
    session_id = bound.session_id
    if quoted:
        proof, session_id = f'"{proof}"', f'"{session_id}"'
    with time_machine.travel(time.time() + 5):
        response = bound.refresh(proof=proof, session_id=session_id)
    assert response.status_code == 200, response.content
    assert response.json()["session_identifier"] == bound.session_id
    assert response.cookies[services.cookie_name()].value != before
    assert DeviceBinding.objects.get().refreshed_at is not None


def test_unbound_session_keeps_working_without_a_bound_cookie(dbsc_browser, alice):
    browser = dbsc_browser()
    browser.log_in(alice)  # the browser does not take part: no registration
    assert browser.page().status_code == 200
    assert not DeviceBinding.objects.exists()


# -- enforcement: a copied session cookie ------------------------------------------------------


def thief_with(cookies: dict[str, str]) -> Client:
    thief = Client()
    for name, value in cookies.items():
        thief.cookies[name] = value
    return thief


def test_session_cookie_alone_is_refused_for_a_bound_session(bound):
    thief = thief_with({settings.SESSION_COOKIE_NAME: bound.session_cookie})
    response = thief.get("/accounts/profile/", secure=True)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"
    assert bound.page().status_code == 200  # the owner, with the bound cookie, stays logged in


def test_copied_cookies_stop_working_once_the_bound_cookie_expires(bound):
    jar = {name: morsel.value for name, morsel in bound.client.cookies.items()}
    thief = thief_with(jar)
    assert thief.get("/accounts/profile/", secure=True).status_code == 200  # within the bound cookie's life
    with time_machine.travel(time.time() + settings.DBSC_COOKIE_AGE + 1):
        assert thief.get("/accounts/profile/", secure=True).status_code == 302
        assert bound.refresh().status_code == 200  # the device renews its cookie with its key
        assert bound.page().status_code == 200


def test_refused_session_is_anonymous_to_the_api(bound):
    thief = thief_with({settings.SESSION_COOKIE_NAME: bound.session_cookie})
    assert thief.get("/api/me/", secure=True).status_code in (401, 403)
    assert bound.client.get("/api/me/", secure=True).status_code == 200


def test_bound_cookie_of_another_session_is_refused(bound, dbsc_browser, alice):
    other = dbsc_browser()
    other.log_in(alice)
    assert other.register().status_code == 200
    other.client.cookies[services.cookie_name()] = bound.client.cookies[services.cookie_name()].value
    assert other.page().status_code == 302


def test_forged_bound_cookie_is_refused(bound):
    forged = b64url(b'{"sid":"x","exp":9999999999}') + ":forged:signature"
    bound.client.cookies[services.cookie_name()] = forged
    assert bound.page().status_code == 302


def test_signed_cookie_session_is_not_offered_binding(dbsc_browser, alice, use_engine):
    """The server holds nothing of such a session: an older copy of the cookie would not say it
    was bound, so none is (devicebound.services.bindable)."""
    use_engine("signed_cookies")
    browser = dbsc_browser()
    login = browser.client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, secure=True)
    assert login.status_code == 302
    assert services.REGISTRATION_HEADER not in login.headers
    proof = browser.key.registration_proof("a-challenge-it-never-got")
    assert code_of(browser.post("/dbsc/register/", proof=proof), 400) == "not_bindable"


def test_bound_session_on_every_engine_the_server_holds(dbsc_browser, alice, revocable_engine):
    browser = dbsc_browser()
    browser.log_in(alice)
    assert browser.register().status_code == 200
    assert browser.refresh().status_code == 200
    assert browser.page().status_code == 200
    browser.drop_bound_cookie()
    assert browser.page().status_code == 302


# -- hostile registrations ---------------------------------------------------------------------


def code_of(response, status: int) -> str:
    assert response.status_code == status, response.content
    return response.json()["code"]


def test_registration_with_a_wrong_challenge_is_refused(dbsc_browser, alice):
    browser = dbsc_browser()
    browser.log_in(alice)
    assert code_of(browser.register(browser.key.registration_proof("not-the-challenge")), 400) == "challenge_invalid"
    assert not DeviceBinding.objects.exists()


def test_registration_with_another_sessions_challenge_is_refused(dbsc_browser, alice):
    first, second = dbsc_browser(), dbsc_browser()
    first.log_in(alice)
    second.log_in(alice)
    proof = second.key.registration_proof(first.registration["challenge"])
    assert code_of(second.register(proof), 400) == "challenge_invalid"


def test_replayed_registration_is_refused(bound):
    proof = bound.key.registration_proof(bound.registration["challenge"])
    assert code_of(bound.register(proof), 400) == "challenge_invalid"
    assert DeviceBinding.objects.count() == 1


def test_registration_after_the_challenge_expired_is_refused(dbsc_browser, alice):
    browser = dbsc_browser()
    browser.log_in(alice)
    with time_machine.travel(time.time() + services.CHALLENGE_AGE + 1):
        assert code_of(browser.register(), 400) == "challenge_invalid"


def test_registration_without_a_session_is_refused(dbsc_browser):
    browser = dbsc_browser()
    assert code_of(browser.post("/dbsc/register/", proof=browser.key.registration_proof("x")), 401) == "not_logged_in"


def test_registration_jwk_with_a_private_part_is_refused(dbsc_browser, alice):
    browser = dbsc_browser()
    browser.log_in(alice)
    private = {**browser.key.jwk, "d": b64url(browser.key.key.private_numbers().private_value.to_bytes(32, "big"))}
    proof = browser.key.registration_proof(browser.registration["challenge"], jwk=private)
    assert code_of(browser.register(proof), 400) == "proof_invalid"


def test_registration_signed_by_another_key_than_its_jwk_is_refused(dbsc_browser, alice):
    browser = dbsc_browser()
    browser.log_in(alice)
    proof = DeviceKey().registration_proof(browser.registration["challenge"], jwk=browser.key.jwk)
    assert code_of(browser.register(proof), 400) == "proof_invalid"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "dbsc+jwt"},
        {"alg": "HS256", "typ": "dbsc+jwt"},
        {"alg": "ES256", "typ": "JWT"},
        {"alg": "ES256"},
        {"alg": "RS256", "typ": "dbsc+jwt"},  # an EC jwk cannot verify RS256
    ],
    ids=["none", "hs256", "typ-jwt", "no-typ", "alg-key-mismatch"],
)
def test_registration_with_a_bad_header_is_refused(dbsc_browser, alice, header):
    browser = dbsc_browser()
    browser.log_in(alice)
    jwt_header = b64url(__import__("json").dumps({**header, "jwk": browser.key.jwk}).encode())
    payload = b64url(b'{"jti":"%s"}' % browser.registration["challenge"].encode())
    signature = browser.key.sign({**header, "jwk": browser.key.jwk}, {"jti": "x"}).rsplit(".", 1)[1]
    assert code_of(browser.register(f"{jwt_header}.{payload}.{signature}"), 400) == "proof_invalid"


def test_registration_of_a_weak_rsa_key_is_refused(dbsc_browser, alice):
    from cryptography.hazmat.primitives.asymmetric import rsa

    browser = dbsc_browser("RS256")
    browser.log_in(alice)
    browser.key.key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert code_of(browser.register(), 400) == "proof_invalid"


@pytest.mark.parametrize(
    "value", ["garbage", "a.b", '"unterminated', "a.b.c" + "x" * 9000, "é.é.é", '"a"."b"."c"', "a.b.c, d.e.f"]
)
def test_garbage_proof_headers_are_refused(dbsc_browser, alice, value):
    browser = dbsc_browser()
    browser.log_in(alice)
    assert browser.register(value).status_code == 400


def test_registration_by_get_is_refused(bound):
    assert bound.client.get("/dbsc/register/", secure=True).status_code == 405


# -- hostile refreshes -------------------------------------------------------------------------


def test_replayed_refresh_proof_is_refused(bound):
    proof = bound.key.refresh_proof(bound.challenge())
    assert bound.refresh(proof=proof).status_code == 200
    response = bound.refresh(proof=proof)
    assert code_of(response, 403) == "challenge_invalid"
    assert services.CHALLENGE_HEADER in response  # the browser may answer the new challenge


def test_refresh_with_an_expired_challenge_is_refused(bound):
    proof = bound.key.refresh_proof(bound.challenge())
    with time_machine.travel(time.time() + services.CHALLENGE_AGE + 1):
        assert code_of(bound.refresh(proof=proof), 403) == "challenge_invalid"


def test_refresh_for_another_session_with_its_cookies_and_the_wrong_key(bound, dbsc_browser, bob):
    other = dbsc_browser()
    other.log_in(bob)
    assert other.register().status_code == 200
    # The thief holds bob's cookies and answers bob's challenge with alice's key.
    proof = bound.key.refresh_proof(other.challenge())
    assert code_of(other.refresh(proof=proof), 400) == "proof_invalid"


def test_refresh_for_another_session_id_is_refused(bound, dbsc_browser, bob):
    other = dbsc_browser()
    other.log_in(bob)
    assert other.register().status_code == 200
    # Alice's cookies and key, bob's session identifier.
    response = bound.post("/dbsc/refresh/", session_id=other.session_id)
    assert code_of(response, 401) == "session_unknown"
    proof = bound.key.refresh_proof(bound.challenge())
    assert code_of(bound.refresh(proof=proof, session_id=other.session_id), 401) == "session_unknown"


def test_refresh_proof_carrying_a_jwk_is_refused(bound):
    proof = bound.key.registration_proof(bound.challenge())
    assert code_of(bound.refresh(proof=proof), 400) == "proof_invalid"


def test_refresh_after_logout_is_refused(bound):
    bound.client.post("/accounts/logout/", secure=True)
    assert code_of(bound.post("/dbsc/refresh/", session_id=bound.session_id), 401) == "session_unknown"


@pytest.mark.parametrize(
    "session_id", ["", "not a uuid", "x" * 100, '"unterminated', "00000000-0000-0000-0000-000000000000"]
)
def test_garbage_session_ids_are_refused(bound, session_id):
    assert 400 <= bound.post("/dbsc/refresh/", session_id=session_id).status_code < 500


def test_refresh_without_a_session_id_is_refused(bound):
    assert code_of(bound.post("/dbsc/refresh/"), 400) == "session_id_missing"


def test_bound_cookie_restores_a_flag_lost_to_a_concurrent_save(dbsc_browser, alice, revocable_engine):
    browser = dbsc_browser()
    browser.log_in(alice)
    stale = browser.client.session  # a page request that loaded the session before registration...
    assert services.BOUND_KEY not in stale
    assert browser.register().status_code == 200
    stale.save()  # ...and saved it after: the session no longer says it is bound
    assert services.BOUND_KEY not in browser.client.session
    assert browser.page().status_code == 200  # the bound cookie proves it: the flag is put back
    assert services.BOUND_KEY in browser.client.session
    browser.drop_bound_cookie()
    assert browser.page().status_code == 302


# -- the middleware ----------------------------------------------------------------------------


def test_middleware_before_authentication_stops_with_a_fix_it_message(settings, client):
    from django.core.exceptions import ImproperlyConfigured

    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "devicebound.middleware.DeviceBoundSessionMiddleware",
        "accounts.middleware.TimedAuthenticationMiddleware",
    ]
    with pytest.raises(ImproperlyConfigured, match="must come after accounts.middleware.TimedAuthentication"):
        client.get("/healthz")


def test_middleware_not_right_after_authentication_stops_with_a_fix_it_message(settings, client):
    """Its user is the session user TimedAuthenticationMiddleware loads: another middleware that
    set request.user in between would be overridden."""
    from django.core.exceptions import ImproperlyConfigured

    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "accounts.middleware.TimedAuthenticationMiddleware",
        "django.contrib.auth.middleware.RemoteUserMiddleware",
        "devicebound.middleware.DeviceBoundSessionMiddleware",
    ]
    with pytest.raises(ImproperlyConfigured, match="right after it"):
        client.get("/healthz")


def test_async_user_of_a_refused_session_is_anonymous(bound, async_to_sync_allowed):
    from asgiref.sync import async_to_sync
    from django.test import RequestFactory

    from accounts.middleware import TimedAuthenticationMiddleware
    from devicebound.middleware import DeviceBoundSessionMiddleware

    seen = []
    chain = TimedAuthenticationMiddleware(DeviceBoundSessionMiddleware(lambda request: seen.append(request)))
    for cookies in ({}, {services.cookie_name(): bound.client.cookies[services.cookie_name()].value}):
        request = RequestFactory().get("/accounts/profile/", secure=True)
        request.session, request.COOKIES = bound.client.session, cookies
        chain(request)
    refused, kept = (async_to_sync(request.auser)() for request in seen)
    assert not refused.is_authenticated
    assert kept.is_authenticated and kept.username == "alice"


@pytest.mark.redis
def test_registration_the_session_store_cannot_take_leaves_no_binding(dbsc_browser, alice, settings, sentinel_cache):
    """The flag every request checks is saved before the binding commits: when the session's
    write is not acknowledged (no replica took it), no binding is left that nothing enforces."""
    settings.SESSION_BACKEND = "redis"
    settings.SESSION_ENGINE = vocabulary.session_engine("redis").module
    browser = dbsc_browser()
    browser.log_in(alice)
    with replica_paused(sentinel_cache), pytest.raises(OUTAGES):
        browser.register()
    assert not DeviceBinding.objects.exists()
    # The primary took the unacknowledged write (flag set, challenge spent): the session counts as
    # bound with no bound cookie, so it is logged out (the safe side), never bound and unenforced.
    assert browser.page().status_code == 302
