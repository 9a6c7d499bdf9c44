"""Tokens in HttpOnly cookies for browsers, with CSRF on every write (login included)."""

from django.conf import settings
from django.test import Client


def csrf_client():
    """A client that enforces CSRF like a browser would be held to it; returns (client, token)."""
    client = Client(enforce_csrf_checks=True)
    response = client.get("/spa/")
    token = response.content.decode().split('name="csrf-token" content="')[1].split('"')[0]
    return client, token


def cookie_login(client, token, user="bob", password="correct-horse-battery-staple"):
    return client.post(
        "/api/cookie/login/", {"username": user, "password": password},
        content_type="application/json", HTTP_X_CSRFTOKEN=token,
    )  # fmt: skip


def test_cookie_login_sets_httponly_cookies_and_no_token_in_body(bob):
    client, token = csrf_client()
    response = cookie_login(client, token)
    assert response.status_code == 200
    access, refresh = response.cookies[settings.JWT_ACCESS_COOKIE], response.cookies[settings.JWT_REFRESH_COOKIE]
    assert access["httponly"] and refresh["httponly"]
    assert access["samesite"] == refresh["samesite"] == "Strict"
    assert refresh["path"] == "/api/cookie/"
    assert access.value not in response.content.decode()
    assert refresh.value not in response.content.decode()
    assert response.json()["username"] == "bob"


def test_cookie_login_answer_is_not_stored(bob):
    client, token = csrf_client()
    response = cookie_login(client, token)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_cookie_refresh_answer_is_not_stored(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    response = client.post("/api/cookie/refresh/", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_cookie_login_without_csrf_token_is_refused(bob):
    client, _ = csrf_client()
    response = cookie_login(client, "wrong-token")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert settings.JWT_ACCESS_COOKIE not in response.cookies


def test_cookie_authenticates_safe_requests(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    response = client.get("/api/me/")
    assert response.json()["authenticated_by"] == "jwt-cookie"
    assert 'desc="jwt-cookie"' in response["Server-Timing"]


def test_cookie_authenticated_write_needs_csrf(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    assert client.post("/api/cookie/refresh/", content_type="application/json").status_code == 403
    assert (
        client.post("/api/cookie/refresh/", content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 200
    )


def test_cookie_refresh_rotates_both_cookies(bob):
    client, token = csrf_client()
    first = cookie_login(client, token).cookies[settings.JWT_REFRESH_COOKIE].value
    response = client.post("/api/cookie/refresh/", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.cookies[settings.JWT_REFRESH_COOKIE].value != first
    assert client.get("/api/dashboard/").json()["message"] == "Access granted to bob"


def test_cookie_logout_blacklists_and_expires_cookies(bob):
    client, token = csrf_client()
    refresh_value = cookie_login(client, token).cookies[settings.JWT_REFRESH_COOKIE].value
    response = client.post("/api/cookie/logout/", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.cookies[settings.JWT_ACCESS_COOKIE]["max-age"] == 0
    assert response.cookies[settings.JWT_REFRESH_COOKIE]["max-age"] == 0
    replay = Client().post("/api/token/refresh/", {"refresh": refresh_value}, content_type="application/json")
    assert replay.status_code == 401


def test_cookie_logout_without_cookies_still_answers_200(db):
    client, token = csrf_client()
    assert (
        client.post("/api/cookie/logout/", content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 200
    )


def test_forged_access_cookie_is_a_401(db):
    client, _ = csrf_client()
    client.cookies[settings.JWT_ACCESS_COOKIE] = "forged.token.value"
    response = client.get("/api/dashboard/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_header_shows_jwt_cookie_authentication_on_pages(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    assert b'data-auth-via="jwt-cookie"' in client.get("/").content


def test_pages_personalised_by_the_jwt_cookie_are_not_cacheable(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    response = client.get("/")
    assert "no-store" in response["Cache-Control"]
    assert 'desc="jwt-cookie"' in response["Server-Timing"]


def test_jwt_cookie_responses_without_a_template_are_not_cacheable(bob):
    client, token = csrf_client()
    cookie_login(client, token)
    response = client.get("/api/no-such-thing/")  # a JSON 404: no template, no context processor
    assert "no-store" in response["Cache-Control"]
    assert 'desc="jwt-cookie"' in response["Server-Timing"]


def test_an_invalid_jwt_cookie_leaves_a_page_public(db):
    client = Client()
    client.cookies[settings.JWT_ACCESS_COOKIE] = "not-a-token"
    response = client.get("/api/no-such-thing/")
    assert "Cache-Control" not in response
    assert 'desc="anonymous"' in response["Server-Timing"]


def test_refresh_tokens_are_not_stored_readable(bob):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    client, token = csrf_client()
    refresh = cookie_login(client, token).cookies[settings.JWT_REFRESH_COOKIE].value
    assert not OutstandingToken.objects.filter(token=refresh).exists()
    assert OutstandingToken.objects.filter(user=bob).exists()
