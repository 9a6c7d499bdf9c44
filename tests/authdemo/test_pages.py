"""The cross-scheme pages, health probes and error pages, as a visitor sees them."""

import pytest
import requests


def test_home_explains_the_three_ideas(client, db):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    for idea in ("The cookie: the transport", "The session: state on the server", "The token: state in the client"):
        assert idea in body
    assert 'data-auth-via="anonymous"' in body


def test_home_shows_session_authentication(client, alice, login):
    login(alice)
    body = client.get("/").content.decode()
    assert 'data-auth-via="session"' in body
    assert "Alice" in body


def test_cookie_demo_sets_httponly_cookie_with_max_age(client, db):
    response = client.get("/cookies/")
    morsel = response.cookies["user"]
    assert morsel.value == "john_doe"
    assert morsel["httponly"] is True
    assert morsel["max-age"] == 900
    assert morsel["samesite"] == "Lax"
    assert "Set-Cookie: user=john_doe" in response.content.decode()


def test_cookie_demo_shows_cookies_sent_back(client, db):
    client.get("/cookies/")
    body = client.get("/cookies/").content.decode()
    assert "<code>user</code></td><td><code>john_doe</code>" in body


def test_cookie_demo_never_prints_a_whole_session_key(client, alice, login):
    login(alice)
    key = client.cookies["sessionid"].value
    body = client.get("/cookies/").content.decode()
    assert key not in body
    assert key[:6] in body


def test_healthz_answers_without_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readyz_reports_database_and_caches(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_unknown_page_is_a_readable_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content


def test_unknown_api_path_is_json_404(client, db):
    response = client.get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.server
def test_real_server_serves_home(app_server, transactional_db):
    response = requests.get(app_server.url + "/", timeout=5)
    assert response.status_code == 200
    assert "Server-Timing" in response.headers
