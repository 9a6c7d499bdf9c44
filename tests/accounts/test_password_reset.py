"""The login page's "Forgot your password?": Django's reset flow, limited, single-use, revoking (issue 12)."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import AuditEvent
from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"
SENT = "/accounts/password/reset/sent/"


def ask_reset(client, address, ip="10.0.0.1"):
    return client.post("/accounts/password/reset/", {"email": address}, REMOTE_ADDR=ip)


def mailed_link() -> str:
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail.outbox[-1].body).group(1)


def reset_password(client, link: str, password: str = NEW_PASSWORD):
    form = client.get(link, follow=True)  # Django moves the token into the session, then the form
    return client.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def test_login_page_links_to_password_reset(client, db):
    assert b'href="/accounts/password/reset/"' in client.get("/accounts/login/").content


def test_reset_request_answers_alike_for_known_and_unknown_addresses(client, alice):
    known, unknown = ask_reset(client, "alice@example.com"), ask_reset(client, "nobody@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == (302, SENT)


def test_reset_request_mails_a_link_to_a_known_address(client, alice):
    ask_reset(client, "ALICE@example.com")
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]
    assert mailed_link().startswith("/accounts/password/reset/")


def test_reset_request_mails_nothing_for_an_unknown_address(client, alice):
    ask_reset(client, "nobody@example.com")
    assert mail.outbox == []


def test_reset_link_sets_a_new_password(client, alice):
    ask_reset(client, "alice@example.com")
    done = reset_password(client, mailed_link())
    assert done["Location"] == "/accounts/password/reset/done/"
    login = Client().post("/accounts/login/", {"username": "alice", "password": NEW_PASSWORD})
    assert login.status_code == 302


def test_reset_link_works_once(client, alice):
    ask_reset(client, "alice@example.com")
    link = mailed_link()
    reset_password(client, link)
    again = Client().get(link, follow=True)
    assert b"This link no longer works" in again.content
    Client().post(link, {"new_password1": "yet-another-pass-9", "new_password2": "yet-another-pass-9"})
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_completed_reset_ends_every_session_and_token(client, alice, login, api_login, revocable_engine):
    login(alice)
    pair = Client().post("/api/token/", {"username": "alice", "password": PASSWORD}, content_type="application/json")
    refresh, access = pair.json()["refresh"], pair.json()["access"]
    stranger = Client()
    ask_reset(stranger, "alice@example.com")
    reset_password(stranger, mailed_link())
    assert client.get("/accounts/profile/").status_code == 302
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    refreshed = Client().post("/api/token/refresh/", {"refresh": refresh}, content_type="application/json")
    assert refreshed.status_code == 401


def test_completed_reset_is_audited(client, alice):
    ask_reset(client, "alice@example.com")
    reset_password(client, mailed_link())
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.PASSWORD_CHANGED, user=alice)
    assert event.detail == {"via": "reset"}


@pytest.mark.usefixtures("redis_throttle_cache", "still_clock")
def test_reset_requests_are_limited_per_account(client, alice, settings):
    settings.AUTH_RESET_ACCOUNT_RATE = "2/h"
    answers = [ask_reset(client, "Alice@example.com", ip=f"10.0.0.{n}").status_code for n in range(3)]
    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2
    assert ask_reset(client, "bob@example.com", ip="10.0.0.9").status_code == 302


@pytest.mark.usefixtures("redis_throttle_cache", "still_clock")
def test_reset_requests_are_limited_per_address(client, db, settings):
    settings.AUTH_RESET_RATE = "2/h"
    answers = [ask_reset(client, f"user{n}@example.com").status_code for n in range(3)]
    assert answers == [302, 302, 429]
    assert b"Too many attempts from your address" in ask_reset(client, "x@example.com").content


def test_signup_takes_an_optional_email_for_resets(client, db):
    client.post(
        "/accounts/signup/",
        {"username": "carol", "display_name": "Carol", "email": "carol@example.com",
         "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )  # fmt: skip
    ask_reset(Client(), "carol@example.com")
    assert [message.to for message in mail.outbox] == [["carol@example.com"]]


def test_reset_link_starts_with_site_url_whatever_the_host_header(client, alice, settings):
    settings.SITE_URL = "https://authdemo.example.com"

    client.post("/accounts/password/reset/", {"email": "alice@example.com"}, HTTP_HOST="127.0.0.1:1")

    link = re.search(r"\S+/accounts/password/reset/\S+/", mail.outbox[-1].body).group(0)
    assert link.startswith("https://authdemo.example.com/accounts/password/reset/")
