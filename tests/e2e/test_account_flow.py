"""Sign up, log in, profile, log out, in a real browser against the real server."""

import re
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_signup_logs_in_and_shows_profile(page):
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Display name").fill("Carol")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url("/accounts/profile/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back, Carol")
    expect(page.locator(".message-success")).to_contain_text("Your account is ready")
    expect(page.locator(".auth-status")).to_have_attribute("data-auth-via", "session")


def test_login_shows_profile_and_session_header(page, alice, browser_login):
    browser_login(page, alice)

    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome back, Alice")
    expect(page.locator(".auth-status")).to_contain_text("Signed in as Alice")
    expect(page.locator(".facts")).to_contain_text("_auth_user_id")


def test_wrong_password_shows_an_error(page, alice, browser_login):
    browser_login(page, alice, "not-the-password", succeeds=False)

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.locator(".auth-status")).to_have_attribute("data-auth-via", "anonymous")


def test_logout_then_back_button_does_not_resume_session(page, alice, browser_login):
    browser_login(page, alice)
    page.goto("/accounts/sessions/")
    page.get_by_role("banner").get_by_role("button", name="Log out").click()
    expect(page.locator(".message-success")).to_contain_text("You are logged out")
    assert "sessionid" not in {cookie["name"] for cookie in page.context.cookies()}

    page.go_back()

    expect(page).to_have_url("/accounts/login/?next=/accounts/sessions/")
    expect(page.locator(".auth-status")).to_have_attribute("data-auth-via", "anonymous")
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def _session_cookie(page) -> dict:
    return next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)


def test_login_without_remember_me_gives_a_cookie_that_ends_with_the_browser(page, alice, browser_login):
    browser_login(page, alice, remember=False)
    assert _session_cookie(page)["expires"] == -1  # a browser-session cookie


def test_login_with_remember_me_gives_a_cookie_that_lasts_a_week(page, alice, browser_login):
    browser_login(page, alice, remember=True)
    expires = _session_cookie(page)["expires"]
    assert expires > time.time() + settings.SESSION_COOKIE_AGE - 3600


def test_signup_fields_are_described_by_their_help_text(page):
    page.goto("/accounts/signup/")

    expect(page.get_by_label("Display name")).to_have_accessible_description("How we greet you, for example Alice.")
    expect(page.get_by_label("Username")).to_have_accessible_description(re.compile("150 characters or fewer"))
