"""A credential change and the revocation it implies commit together or not at all (F3).

Every path that changes a credential (reset link, password page, the admin's set-password,
deactivation and deletion wherever they are made, and "log out everywhere") is tried with the cache that carries the
access-token cut-off really unavailable: our own redis-server stopped, or a Sentinel-managed
primary whose only replica is frozen so that `WAIT` is never acknowledged. Either nothing
changed and the user was told (a 503), or everything holds; never a new password with the old
logins still alive. Then the store comes back and the same change, made again, ends every login.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.http import OUTAGES
from accounts.models import User, UserSession
from tests.factories import PASSWORD, UserFactory
from tests.support import client_logged_in_as, postgres_killed, redis_cache_settings, replica_paused

pytestmark = [pytest.mark.redis]

NEW_PASSWORD = "a-brand-new-passphrase-42"


# -- the two faults ---------------------------------------------------------------------------


@pytest.fixture(params=["redis stopped", "WAIT not acknowledged"])
def fault(request, settings):
    """Return a context manager that holds the fault for its block; the store is healthy after it."""
    if request.param == "redis stopped":
        own = request.getfixturevalue("own_redis")
        settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(own.url, "credential")}

        @contextmanager
        def redis_stopped():
            own.stop()
            try:
                yield
            finally:
                own.start()

        return redis_stopped
    stores = request.getfixturevalue("sentinel_cache")
    return lambda: replica_paused(stores)


# -- what a user has before the change ------------------------------------------------------------


class Logins:
    """A user with a browser session elsewhere and an API login (refresh and access token)."""

    def __init__(self, user: User):
        self.user = user
        self.browser = client_logged_in_as(user)
        api = Client().post(
            "/api/token/", {"username": user.username, "password": PASSWORD}, content_type="application/json"
        )
        assert api.status_code == 200, api.content
        self.access, self.refresh = api.json()["access"], api.json()["refresh"]

    def alive(self) -> dict[str, bool]:
        """Which of the user's logins still work, and whether the old password does."""
        dashboard = Client().get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {self.access}")
        refreshed = Client().post(
            "/api/token/verify/", {"token": self.refresh}, content_type="application/json"
        )  # verify, not refresh: it reads the refresh token without rotating it
        return {
            "old password": User.objects.get(pk=self.user.pk).check_password(PASSWORD),
            "session": self.browser.get("/accounts/profile/").status_code == 200,
            "access token": dashboard.status_code == 200,
            "refresh token": refreshed.status_code == 200,
        }


ALL_ALIVE = {"old password": True, "session": True, "access token": True, "refresh token": True}
NONE_ALIVE = {"old password": False, "session": False, "access token": False, "refresh token": False}


@pytest.fixture
def logins(transactional_db) -> Logins:
    return Logins(UserFactory(username="carol", email="carol@example.com", is_staff=False))


@pytest.fixture
def admin_client(transactional_db) -> Client:
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)  # the 503 page, as a browser sees it
    client.force_login(staff)
    return client


# -- the paths that change a credential ------------------------------------------------------------


def reset_with_link(logins: Logins, password: str = NEW_PASSWORD):
    user = User.objects.get(pk=logins.user.pk)  # the token covers last_login, which the logins moved
    link = f"/accounts/password/reset/{urlsafe_base64_encode(force_bytes(user.pk))}/"
    link += f"{default_token_generator.make_token(user)}/"
    browser = Client()
    form = browser.get(link, follow=True)  # Django moves the token into the session, then the form
    return browser.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})


def change_on_page(logins: Logins, password: str = NEW_PASSWORD):
    page = client_logged_in_as(logins.user)
    return page.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": password, "new_password2": password},
    )


def test_reset_link_under_a_fault_changes_nothing_and_says_so(logins, fault):
    with fault():
        response = reset_with_link(logins)
    assert response.status_code == 503
    assert "Your password was not changed" in response.content.decode()
    assert logins.alive() == ALL_ALIVE
    assert reset_with_link(logins).status_code == 302  # the link was not spent: it works now
    assert logins.alive() == NONE_ALIVE


def test_password_page_under_a_fault_changes_nothing_and_says_so(logins, fault):
    with fault():
        response = change_on_page(logins)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Your password was not changed" in response.content.decode()
    assert logins.alive() == ALL_ALIVE
    assert change_on_page(logins).status_code == 302
    assert logins.alive() == NONE_ALIVE


def test_admin_set_password_under_a_fault_changes_nothing(logins, fault, admin_client):
    url = f"/admin/accounts/user/{logins.user.pk}/password/"
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    with fault():
        response = admin_client.post(url, form)
    assert response.status_code == 503
    assert logins.alive() == ALL_ALIVE
    assert admin_client.post(url, form).status_code == 302
    assert logins.alive() == NONE_ALIVE


def test_delete_under_a_fault_deletes_nothing(logins, fault):
    """The delete collector runs pre_delete inside its transaction (accounts.signals)."""
    user = User.objects.get(pk=logins.user.pk)
    with fault(), pytest.raises(OUTAGES):
        user.delete()
    assert User.objects.filter(pk=user.pk).exists()
    assert logins.alive() == ALL_ALIVE
    user.delete()
    assert not User.objects.filter(pk=user.pk).exists()
    assert logins.browser.get("/accounts/profile/").status_code == 302
    assert Client().get("/api/dashboard/", HTTP_AUTHORIZATION=f"Bearer {logins.access}").status_code == 401


def test_deactivation_in_a_shell_under_a_fault_raises_and_keeps_the_user_active(logins, fault):
    user = User.objects.get(pk=logins.user.pk)
    user.is_active = False
    with fault(), pytest.raises(OUTAGES):
        user.save()
    assert User.objects.get(pk=user.pk).is_active
    assert logins.alive() == ALL_ALIVE
    user.save()
    assert not User.objects.get(pk=user.pk).is_active
    assert {**logins.alive(), "old password": False} == NONE_ALIVE


def test_log_out_everywhere_under_a_fault_ends_nothing_and_says_so(logins, fault):
    page = client_logged_in_as(logins.user)
    with fault():
        response = page.post("/accounts/sessions/everywhere/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/sessions/"
    assert "Log out everywhere did not complete" in response.content.decode()
    assert logins.alive() == ALL_ALIVE
    assert UserSession.objects.filter(user=logins.user).count() == 2
    page.post("/accounts/sessions/everywhere/")
    assert {**logins.alive(), "old password": False} == NONE_ALIVE


@pytest.mark.postgres
@pytest.mark.parametrize("after", [False, True], ids=["before its audit event", "at its commit"])
def test_log_out_everywhere_with_postgres_killed_after_the_cache_write_ends_nothing(
    logins, postgres, redis_cache, after
):
    """PostgreSQL dies once the new cut-off is in the cache: the database rolls back, so the cache
    must not keep it (a cut-off is a version: every access token minted under the database's own,
    older one would be refused as revoked for as long as the cache keeps the newer one)."""
    page = client_logged_in_as(logins.user)
    with postgres_killed('INSERT INTO "accounts_auditevent"', after=after) as killed:
        response = page.post("/accounts/sessions/everywhere/")
    assert killed["killed"]
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sessions/"  # with "did not complete", not logged out
    assert logins.alive() == ALL_ALIVE
    assert Logins(logins.user).alive() == ALL_ALIVE  # a new API login works
    page.post("/accounts/sessions/everywhere/")
    assert {**logins.alive(), "old password": False} == NONE_ALIVE
