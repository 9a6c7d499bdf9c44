"""One lockout policy on every login path (django-axes), and throttling as a second layer.

References: OWASP ASVS 5.0 V6.3 (brute force), OWASP Authentication cheat sheet.
"""

import pytest
from django.test import Client

from accounts.models import AuditEvent
from tests.factories import PASSWORD
from tests.security.logins import PATHS, html_login, token_login

LIMIT = 5


@pytest.mark.parametrize("path", PATHS)
def test_lockout_after_five_failures_with_retry_after(client, alice, path):
    attempt = PATHS[path]
    for _ in range(LIMIT - 1):
        assert attempt(client, "alice", "wrong").status_code != 429
    locked = attempt(client, "alice", "wrong")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert attempt(client, "alice", "correct-horse-battery-staple").status_code == 429


@pytest.mark.parametrize("path", ["html", "token"])
def test_unknown_user_is_locked_out_alike(client, db, path):
    attempt = PATHS[path]
    answers = [attempt(client, "nobody", "wrong").status_code for _ in range(LIMIT)]
    assert answers[-1] == 429


def test_attacker_elsewhere_does_not_lock_out_the_real_user(client, alice):
    for _ in range(LIMIT + 2):
        token_login(client, "alice", "wrong", ip="203.0.113.9")
    assert token_login(Client(), "alice", "correct-horse-battery-staple", ip="198.51.100.7").status_code == 200


def test_forged_x_forwarded_for_does_not_dodge_the_lockout(client, alice):
    for n in range(LIMIT):
        client.post(
            "/api/token/", {"username": "alice", "password": "wrong"}, content_type="application/json",
            REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )  # fmt: skip
    assert token_login(client, "alice", "wrong", ip="203.0.113.9").status_code == 429


def test_lockout_is_json_on_the_api_and_a_page_on_the_site(client, alice):
    for _ in range(LIMIT):
        token_login(client, "alice", "wrong")
    assert token_login(client, "alice", "x").json()["code"] == "locked_out"
    assert b"Too many failed logins" in html_login(client, "alice", "x").content


def test_lockout_is_audited(client, alice):
    for _ in range(LIMIT):
        html_login(client, "alice", "wrong")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOCKOUT, username="alice").exists()


def test_auth_endpoints_are_throttled_per_address(client, db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "3/minute"}}
    answers = [token_login(client, f"user{n}", "wrong").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]
    throttled = token_login(client, "user9", "wrong")
    assert throttled.json()["code"] == "throttled"
    assert "Retry-After" in throttled
    assert token_login(client, "user9", "wrong", ip="10.9.9.9").status_code == 401


def change_password(client, old_password, ip="10.0.0.1"):
    new = {"new_password1": "new-pass-phrase-42", "new_password2": "new-pass-phrase-42"}
    return client.post("/accounts/password/", {"old_password": old_password, **new}, REMOTE_ADDR=ip)


def test_password_change_locks_out_guessing_of_the_old_password(client, alice):
    client.force_login(alice)
    for _ in range(LIMIT - 1):
        assert change_password(client, "wrong").status_code == 200
    assert change_password(client, "wrong").status_code == 429

    refused = change_password(client, PASSWORD)

    assert refused.status_code == 429
    assert b"Too many failed logins" in refused.content
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_change_failures_lock_the_login_of_that_account(client, alice):
    client.force_login(alice)
    for _ in range(LIMIT):
        change_password(client, "wrong")
    assert html_login(Client(), "alice", PASSWORD).status_code == 429


@pytest.mark.usefixtures("redis_throttle_cache", "still_clock")
def test_password_change_failures_count_against_the_address(client, alice, bob, settings):
    settings.AUTH_LOGIN_FAILURE_RATE = "3/15m"
    client.force_login(alice)
    for _ in range(3):
        change_password(client, "wrong", ip="203.0.113.9")
    assert html_login(Client(), "bob", PASSWORD, ip="203.0.113.9").status_code == 429
    assert change_password(client, PASSWORD, ip="203.0.113.9").status_code == 429
