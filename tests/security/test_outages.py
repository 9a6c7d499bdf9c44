"""Store outages: a real Redis process of our own is stopped and restarted under a running
app; PostgreSQL is made unreachable. Answers are clear 503s, never half-authenticated."""

import pytest
import requests

from harness.stack import free_port
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server, pytest.mark.redis]
TIMEOUT = 10  # a bound on a hung request, not a speed assertion


def browser_login(base, username):
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/", timeout=TIMEOUT)
    browser.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=TIMEOUT,
    )
    return browser


def profile_status(browser, base):
    return browser.get(f"{base}/accounts/profile/", allow_redirects=False, timeout=TIMEOUT).status_code


def token_pair(base, username):
    return requests.post(f"{base}/api/token/", json={"username": username, "password": PASSWORD}, timeout=TIMEOUT)


def test_redis_sessions_outage_is_a_clear_503_and_recovers(start_server, own_redis, transactional_db):
    UserFactory(username="alice")
    server = start_server(REDIS_URL=own_redis.url, SESSION_BACKEND="redis")
    browser = browser_login(server.url, "alice")
    access = token_pair(server.url, "alice").json()["access"]
    assert profile_status(browser, server.url) == 200

    own_redis.stop()
    page = browser.get(f"{server.url}/accounts/profile/", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 503
    assert "A store this site depends on is not answering" in page.text
    assert "Retry-After" in page.headers
    dashboard = requests.get(f"{server.url}/api/dashboard/", headers={"Authorization": f"Bearer {access}"})
    assert dashboard.status_code == 200  # the JWT API keeps serving
    for _ in range(5):
        token_pair(server.url, "nobody")
    assert token_pair(server.url, "nobody").status_code == 429  # lockout does not fail open

    own_redis.start()  # Redis keeps nothing on disk: sessions are gone, the app recovers
    assert profile_status(browser, server.url) == 302
    assert profile_status(browser_login(server.url, "alice"), server.url) == 200


def test_cached_db_sessions_survive_a_redis_outage(start_server, own_redis, transactional_db):
    UserFactory(username="alice")
    server = start_server(REDIS_URL=own_redis.url, SESSION_BACKEND="cached_db")
    browser, other = browser_login(server.url, "alice"), browser_login(server.url, "alice")
    assert profile_status(browser, server.url) == 200

    own_redis.stop()
    assert profile_status(browser, server.url) == 200  # served from the database
    revoke = browser.post(
        f"{server.url}/accounts/sessions/revoke-others/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{server.url}/accounts/sessions/"}, timeout=TIMEOUT,
    )  # fmt: skip
    assert revoke.status_code == 503  # refused whole: no stale cached copy can outlive it
    own_redis.start()
    assert profile_status(other, server.url) == 200
    browser.post(
        f"{server.url}/accounts/sessions/revoke-others/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{server.url}/accounts/sessions/"}, timeout=TIMEOUT,
    )  # fmt: skip
    assert profile_status(other, server.url) == 302
    assert profile_status(browser, server.url) == 200


def test_database_outage_is_a_clear_503_never_half_authenticated(start_server, app_server, transactional_db):
    UserFactory(username="alice")
    browser = browser_login(app_server.url, "alice")
    dead = start_server(DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/gone", JWT_REVOCATION="cutoff")
    assert requests.get(f"{dead.url}/healthz", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{dead.url}/readyz", timeout=TIMEOUT).status_code == 503
    page = browser.get(f"{dead.url}/accounts/profile/", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 503
    login = token_pair(dead.url, "alice")
    assert login.status_code == 503
    assert login.json()["code"] == "service_unavailable"


def test_address_limits_let_logins_through_when_the_cache_is_down(client, alice, settings, dead_throttle_cache):
    settings.AUTH_LOGIN_RATE = "1/m"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1/minute"}}
    for _ in range(2):
        login = client.post("/api/token/", {"username": "alice", "password": PASSWORD}, content_type="application/json")
        assert login.status_code == 200
