"""The second site, chosen by Host, and its backend-for-frontend's answers to bad input."""

import time

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from crosssite.middleware import CrossSiteSessionCookieMiddleware, SecondSiteMiddleware
from harness.stack import free_port
from tests.factories import PASSWORD

SECOND = "localhost:8000"


@pytest.fixture
def second_site(db, settings):
    settings.CROSS_SITE_HOST = "localhost"
    return Client(HTTP_HOST=SECOND, enforce_csrf_checks=True)


def csrf_token(client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return page.content.decode().split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("path", ["/healthz", "/static/css/site.css", "/"])
def test_a_host_the_site_does_not_allow_is_a_400_before_any_file_or_page(client, path):
    """The Host test runs get_host() on every request, so a Host outside ALLOWED_HOSTS is refused
    there, above WhiteNoise, which would otherwise serve a static file to any Host."""
    assert client.get(path).status_code == 200
    assert client.get(path, HTTP_HOST="evil.example").status_code == 400


def test_second_site_serves_its_spa_for_host_localhost(second_site, settings):
    page = second_site.get("/")

    assert "A single-page client on another site" in page.content.decode()
    assert f"connect-src 'self' {settings.CROSS_SITE_API}" in page["Content-Security-Policy"]


def test_api_site_serves_its_own_home_page(client, db):
    assert "A single-page client on another site" not in client.get("/").content.decode()


def test_api_site_links_to_the_second_site(client, db, settings):
    response = client.get("/crosssite/")
    assert (response.status_code, response["Location"]) == (302, f"{settings.CROSS_SITE_ORIGIN}/")
    assert 'href="/crosssite/"' in client.get("/").content.decode()


def test_second_site_does_not_serve_the_api_sites_pages(second_site):
    response = second_site.get("/accounts/login/")

    assert response.status_code == 404
    assert "There is nothing at this address on the second site." in response.content.decode()


def test_bff_login_without_csrf_token_is_refused_in_json(second_site):
    response = second_site.post(
        "/api/bff/login/", {"username": "bob", "password": "x"}, content_type="application/json"
    )

    assert (response.status_code, response.json()["code"]) == (403, "csrf_failed")


@pytest.mark.parametrize(
    "body", ["{not json", "[]", '{"username": "bob"}', '{"username": 1, "password": []}', "[" * 20_000]
)
def test_bff_login_with_bad_input_is_a_400(second_site, body):
    token = csrf_token(second_site)

    response = second_site.post("/api/bff/login/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)

    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_bff_dashboard_before_login_is_a_401(second_site):
    response = second_site.get("/api/bff/dashboard/")

    assert (response.status_code, response.json()["code"]) == (401, "not_logged_in")


def test_bff_login_when_the_api_does_not_answer_is_a_502(second_site, settings):
    settings.CROSS_SITE_API = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    token = csrf_token(second_site)

    response = second_site.post("/api/bff/login/", {"username": "bob", "password": "x"},
                                content_type="application/json", HTTP_X_CSRFTOKEN=token)  # fmt: skip

    assert (response.status_code, response.json()["code"]) == (502, "api_unreachable")


def test_bff_refuses_to_keep_tokens_in_a_signed_cookie_session(second_site, settings):
    settings.SESSION_BACKEND = "signed_cookies"
    token = csrf_token(second_site)

    response = second_site.post("/api/bff/login/", {"username": "bob", "password": "x"},
                                content_type="application/json", HTTP_X_CSRFTOKEN=token)  # fmt: skip

    assert (response.status_code, response.json()["code"]) == (503, "bff_needs_server_sessions")


def test_bff_login_answers_get_with_405(second_site):
    assert second_site.get("/api/bff/login/").status_code == 405


def test_cross_site_login_refuses_an_unknown_cookie_mode(client, bob, settings):
    response = client.post("/crosssite/api/token-cookie/login/?cookie=strict", {"username": "bob", "password": "x"},
                           content_type="application/json", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN)  # fmt: skip

    assert response.status_code == 400
    assert "cookie" in response.json()["fields"]


MODE_ATTRIBUTES = [("none", "SameSite=None; Secure"), ("partitioned", "Partitioned; Path=/; SameSite=None; Secure")]


@pytest.mark.parametrize(("mode", "attributes"), MODE_ATTRIBUTES)
def test_cross_site_session_login_sets_the_cookie_with_the_modes_attributes(client, bob, settings, mode, attributes):
    response = client.post(f"/crosssite/api/session/login/?cookie={mode}", {"username": "bob", "password": PASSWORD},
                           content_type="application/json", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN)  # fmt: skip

    assert response.status_code == 200
    assert attributes in response.cookies[settings.SESSION_COOKIE_NAME].output()


@pytest.mark.parametrize(("mode", "attributes"), MODE_ATTRIBUTES)
def test_cross_site_session_cookie_keeps_its_attributes_when_set_again(client, bob, settings, mode, attributes):
    client.post(f"/crosssite/api/session/login/?cookie={mode}", {"username": "bob", "password": PASSWORD},
                content_type="application/json", HTTP_ORIGIN=settings.CROSS_SITE_ORIGIN)  # fmt: skip

    with time_machine.travel(time.time() + settings.SESSION_TOUCH_INTERVAL + 1):
        later = client.get("/api/me/")  # the registry's last-seen touch changes the session

    assert later.status_code == 200
    assert attributes in later.cookies[settings.SESSION_COOKIE_NAME].output()


def test_cross_site_session_cookie_middleware_after_sessions_stops_with_a_fix_it_message(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "CrossSiteSessionCookie" not in m] + [
        "crosssite.middleware.CrossSiteSessionCookieMiddleware"
    ]

    with pytest.raises(ImproperlyConfigured, match="before django.contrib.sessions.middleware.SessionMiddleware"):
        CrossSiteSessionCookieMiddleware(lambda request: None)


def test_second_site_middleware_after_common_stops_with_a_fix_it_message(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "SecondSite" not in m] + [
        "crosssite.middleware.SecondSiteMiddleware"
    ]

    with pytest.raises(ImproperlyConfigured, match="before django.middleware.common.CommonMiddleware"):
        SecondSiteMiddleware(lambda request: None)
