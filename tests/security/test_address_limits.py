"""Per-address limits on every credential path (accounts.limits), on real Redis.

Issue 12, bug 2: one address could try any number of usernames on the HTML login paths,
each attempt an Argon2 hash. References: OWASP ASVS 5.0 V6.3.1, OWASP Authentication cheat sheet.
"""

import pytest
from django.test import Client

from accounts.models import AuditEvent
from tests.factories import PASSWORD
from tests.security.logins import PATHS, html_login, token_login

pytestmark = pytest.mark.usefixtures("redis_throttle_cache", "still_clock")
ATTACKER, VICTIM = "203.0.113.9", "198.51.100.7"


def compare_login(client, username, password, ip="10.0.0.1"):
    return client.post("/compare/demo/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def signup(client, n, ip="10.0.0.1"):
    return client.post(
        "/accounts/signup/",
        {"username": f"new{n}", "display_name": "New", "password1": "a-long-new-pass-7", "password2": "nope"},
        REMOTE_ADDR=ip,
    )


LOGINS = {**PATHS, "compare": compare_login}


@pytest.fixture
def tight(settings):
    settings.AUTH_LOGIN_RATE = "3/m"
    settings.AUTH_LOGIN_FAILURE_RATE = "100/15m"


@pytest.mark.parametrize("path", LOGINS)
def test_login_path_refuses_an_address_past_the_attempt_limit(client, db, tight, path):
    answers = [LOGINS[path](client, f"user{n}", "wrong").status_code for n in range(4)]
    assert 429 not in answers[:3]
    assert answers[3] == 429


@pytest.mark.parametrize("path", LOGINS)
def test_failed_logins_from_one_address_are_limited_across_usernames(client, alice, settings, path):
    settings.AUTH_LOGIN_FAILURE_RATE = "3/15m"
    for n in range(3):
        LOGINS[path](client, f"user{n}", "wrong")
    assert LOGINS[path](client, "alice", PASSWORD).status_code == 429


def test_failed_logins_count_across_paths(client, db, settings):
    settings.AUTH_LOGIN_FAILURE_RATE = "4/15m"
    for n, path in enumerate(("html", "admin", "token", "compare")):
        LOGINS[path](client, f"user{n}", "wrong")
    assert LOGINS["cookie"](client, "user9", "wrong").status_code == 429


def test_successful_logins_do_not_count_as_failures(client, alice, settings):
    settings.AUTH_LOGIN_FAILURE_RATE = "2/15m"
    for _ in range(3):
        assert token_login(client, "alice", PASSWORD).status_code == 200


def test_address_limit_leaves_the_victim_elsewhere_logged_in(client, alice, tight):
    for _ in range(5):
        html_login(client, "alice", "wrong", ip=ATTACKER)
    assert html_login(Client(), "alice", PASSWORD, ip=VICTIM).status_code == 302


def test_refused_attempt_never_reaches_the_password_check(client, db, tight):
    for n in range(6):
        html_login(client, f"user{n}", "wrong")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).count() == 3


def test_address_limit_is_json_with_retry_after_on_the_api(client, db, tight):
    for n in range(3):
        token_login(client, f"user{n}", "wrong")
    refused = token_login(client, "user9", "wrong")
    assert refused.json() == {"detail": refused.json()["detail"], "code": "throttled"}
    assert 0 < int(refused["Retry-After"]) <= 60


def test_address_limit_is_a_readable_page_with_retry_after_on_the_site(client, db, tight):
    for n in range(3):
        html_login(client, f"user{n}", "wrong")
    refused = html_login(client, "user9", "wrong")
    assert refused["Content-Type"].startswith("text/html")
    assert b"Too many attempts from your address" in refused.content
    assert 0 < int(refused["Retry-After"]) <= 60


def test_forged_x_forwarded_for_does_not_dodge_the_address_limit(client, db, tight):
    for n in range(3):
        client.post("/accounts/login/", {"username": f"u{n}", "password": "x"}, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert client.post("/accounts/login/", {"username": "u", "password": "x"}).status_code == 429


def test_ipv6_clients_share_a_limit_per_64(client, db, tight):
    for n in range(3):
        html_login(client, f"user{n}", "wrong", ip=f"2001:db8:1:2::{n + 1}")
    assert html_login(client, "user9", "wrong", ip="2001:db8:1:2:ffff::1").status_code == 429
    assert html_login(client, "user9", "wrong", ip="2001:db8:1:3::1").status_code != 429


def test_ipv4_mapped_clients_do_not_share_a_limit(client, db, tight):
    for n in range(3):
        html_login(client, f"user{n}", "wrong", ip="::ffff:198.51.100.1")
    assert html_login(client, "user9", "wrong", ip="::ffff:198.51.100.1").status_code == 429
    assert html_login(client, "user9", "wrong", ip="::ffff:198.51.100.2").status_code != 429


def test_ipv4_mapped_client_is_recorded_by_its_ipv4_address(client, db, tight):
    html_login(client, "nobody", "wrong", ip="::ffff:198.51.100.3")
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN_FAILED).ip == "198.51.100.3"


def test_login_page_get_is_not_counted(client, db, tight):
    for _ in range(5):
        assert client.get("/accounts/login/").status_code == 200


def test_signups_are_limited_per_address(client, db, settings):
    settings.AUTH_SIGNUP_RATE = "2/h"
    assert [signup(client, n).status_code for n in range(3)] == [200, 200, 429]
    assert signup(client, 4, ip=VICTIM).status_code == 200
