"""The login form's "Remember me", on every session engine (issue 12).

Unticked, the session cookie has no Max-Age, so the browser drops it when it closes; ticked,
it lasts SESSION_COOKIE_AGE. Either way the server keeps the data for SESSION_COOKIE_AGE at
most, and the session registry records exactly that expiry.
"""

from datetime import datetime, timedelta

import time_machine
from django.conf import settings
from django.utils import timezone

from accounts.models import UserSession
from tests.factories import PASSWORD

NOW = datetime.fromisoformat("2026-03-01 12:00:00+00:00")


def remembered_login(client, user, *, remember: bool):
    data = {"username": user.username, "password": PASSWORD, **({"remember": "on"} if remember else {})}
    return client.post("/accounts/login/", data)


def test_login_unticked_session_cookie_ends_with_the_browser(client, alice, session_engine):
    morsel = remembered_login(client, alice, remember=False).cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["max-age"] == ""
    assert morsel["expires"] == ""


def test_login_ticked_session_cookie_lasts_the_configured_age(client, alice, session_engine):
    morsel = remembered_login(client, alice, remember=True).cookies[settings.SESSION_COOKIE_NAME]
    assert morsel["max-age"] == settings.SESSION_COOKIE_AGE


def test_login_unticked_stays_a_browser_session_on_later_requests(client, alice, session_engine):
    remembered_login(client, alice, remember=False)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        later = client.post("/accounts/sessions/revoke-others/")
    assert later.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == ""


def test_login_unticked_registry_records_the_stores_expiry(client, alice, session_engine):
    with time_machine.travel(NOW, tick=False):
        remembered_login(client, alice, remember=False)
        profile = client.get("/accounts/profile/")
    entry = UserSession.objects.get(user=alice)
    assert entry.expires_at == NOW + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert f'<time datetime="{entry.expires_at.isoformat()}">' in profile.content.decode()


def test_profile_says_an_unremembered_session_ends_with_the_browser(client, alice, session_engine):
    remembered_login(client, alice, remember=False)
    assert "when you close the browser" in client.get("/accounts/profile/").content.decode()


def test_profile_does_not_say_so_for_a_remembered_session(client, alice, session_engine):
    remembered_login(client, alice, remember=True)
    assert "when you close the browser" not in client.get("/accounts/profile/").content.decode()
