"""Sign-up with Django's validators, password change, and bad form input."""

from accounts.models import AuditEvent, User
from tests.pages import form_errors


def test_signup_creates_user_and_logs_in(client, db):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "display_name": "Carol",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
        follow=True,
    )
    assert "Welcome back, Carol" in response.content.decode()
    assert User.objects.get(username="carol").check_password("a-long-pass-phrase-9")


def test_signup_rejects_weak_password_beside_the_field(client, db):
    response = client.post("/accounts/signup/", {"username": "carol", "password1": "12345678", "password2": "12345678"})
    assert response.status_code == 200
    assert "password2" in form_errors(response)
    assert not User.objects.filter(username="carol").exists()


def test_signup_rejects_oversized_fields(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "u" * 5000, "password1": "p" * 5000, "password2": "p" * 5000}
    )
    assert response.status_code == 200
    errors = form_errors(response)
    assert "username" in errors and "password1" in errors


def test_login_rejects_oversized_password_as_form_error(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "p" * 5000})
    assert response.status_code == 200
    assert form_errors(response)


def test_form_without_csrf_token_is_refused(alice):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"username": "alice", "password": "whatever"})
    assert response.status_code == 403
    assert b"Request blocked" in response.content


def test_password_change_keeps_this_session_and_ends_others(client, alice, login, revocable_engine):
    from django.test import Client

    other = Client()
    other.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery-staple"})
    login(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "correct-horse-battery-staple",
            "new_password1": "new-pass-phrase-42",
            "new_password2": "new-pass-phrase-42",
        },
        follow=True,
    )
    assert "Password changed" in response.content.decode()
    assert client.get("/accounts/profile/").status_code == 200
    assert other.get("/accounts/profile/").status_code == 302
    assert AuditEvent.objects.filter(user=alice, kind=AuditEvent.Kind.PASSWORD_CHANGED).exists()
