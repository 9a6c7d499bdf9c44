"""Behind nginx the client address and scheme are the ones nginx saw; unknown hosts never reach
Django (deployment checklist). Everything here goes through the cluster's real nginx."""

import json

import pytest
import requests

from accounts.models import AuditEvent, UserSession
from harness.logins import log_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]
TIMEOUT = 10  # a bound on a hung request, not a speed assertion
FORGED = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"}


def token_login(base, username, password, forged_ip):
    return requests.post(
        f"{base}/api/token/", json={"username": username, "password": password},
        headers={"X-Forwarded-For": forged_ip}, timeout=TIMEOUT,
    )  # fmt: skip


def forged_page_login(base, username):
    browser = requests.Session()
    browser.headers.update(FORGED)
    browser.get(f"{base}/accounts/login/", timeout=TIMEOUT)
    browser.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"}, timeout=TIMEOUT,
    )  # fmt: skip
    return browser


def test_proxy_forged_forwarded_for_is_not_the_audited_address(cluster):
    UserFactory(username="alice")
    forged_page_login(cluster.url, "alice")
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN).ip == "127.0.0.1"


def test_proxy_forged_forwarded_for_is_not_on_the_sessions_page(cluster):
    UserFactory(username="alice")
    page = forged_page_login(cluster.url, "alice").get(f"{cluster.url}/accounts/sessions/", timeout=TIMEOUT)
    assert UserSession.objects.get().ip == "127.0.0.1"
    assert "203.0.113.7" not in page.text


def test_proxy_forged_forwarded_for_does_not_dodge_the_lockout(cluster):
    UserFactory(username="alice")
    for n in range(5):
        token_login(cluster.url, "alice", "wrong", forged_ip=f"192.0.2.{n}")
    assert token_login(cluster.url, "alice", PASSWORD, forged_ip="192.0.2.99").status_code == 429


def test_proxy_forged_forwarded_for_does_not_dodge_the_throttle(cluster):
    answers = [token_login(cluster.url, f"user{n}", "wrong", forged_ip=f"192.0.2.{n}").status_code for n in range(11)]
    assert answers[-1] == 429  # AUTH_THROTTLE_RATE=10/minute for 127.0.0.1, whatever the header says


def login_claiming_https(base: str) -> int:
    """Log in over plain http with `X-Forwarded-Proto: https` and an http Referer; the status."""
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/", timeout=TIMEOUT)
    return browser.post(
        f"{base}/accounts/login/",
        data={"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/", "X-Forwarded-Proto": "https"},
        allow_redirects=False, timeout=TIMEOUT,
    ).status_code  # fmt: skip


def test_proxy_forged_forwarded_proto_is_replaced(cluster):
    UserFactory(username="alice")
    assert login_claiming_https(cluster.url) == 302  # seen as plain http: the http Referer passes CSRF


def test_instance_trusts_forwarded_proto_from_the_proxy(cluster):
    UserFactory(username="alice")
    instance = cluster.apps["main"][0].url  # bypassing nginx, as the README says nobody may
    assert login_claiming_https(instance) == 403  # taken for HTTPS: the http Referer fails CSRF


def test_proxy_drops_unknown_hosts(cluster):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{cluster.url}/healthz", headers={"Host": "evil.example"}, timeout=TIMEOUT)


def test_proxy_serves_the_known_host(cluster):
    assert requests.get(f"{cluster.url}/healthz", headers={"Host": "localhost"}, timeout=TIMEOUT).status_code == 200


def test_cluster_state_maps_every_process(cluster):
    state = json.loads(cluster.state_path.read_text())
    assert state["url"] == cluster.url
    assert sorted(node["role"] for node in state["redis"]) == ["primary"] + ["replica"] * cluster.replicas
    assert [node["role"] for node in state["sentinels"]] == ["sentinel"] * 3
    assert [app["pid"] for app in state["apps"]] == [app.pid for app in cluster.apps["main"]]


def test_cluster_logs_in_through_the_proxy(cluster):
    UserFactory(username="alice")
    browser = log_in(cluster.url, "alice", PASSWORD)
    assert browser.get(f"{cluster.url}/accounts/profile/", timeout=TIMEOUT).status_code == 200


def test_proxy_oversize_body_to_the_api_is_a_json_413(cluster):
    response = requests.post(
        f"{cluster.url}/api/token/", data=b"a" * 70_000, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "request_too_large"


def test_proxy_oversize_body_to_a_page_is_a_readable_413(cluster):
    response = requests.post(f"{cluster.url}/accounts/login/", data={"username": "a" * 70_000}, timeout=TIMEOUT)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Request too large" in response.text
