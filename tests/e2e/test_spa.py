"""The single-page client on the cookie transport, in a real browser."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import TokenFamily

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def spa(page, bob, browser_login):
    """The SPA, logged in as bob through POST /api/cookie/login/."""
    browser_login(page, bob, spa=True)
    return page


def test_spa_login_keeps_tokens_out_of_script_reach(spa):
    body = spa.locator("#spa-output").inner_text()
    cookies = {c["name"]: c for c in spa.context.cookies()}

    assert cookies["access"]["httpOnly"] and cookies["refresh"]["httpOnly"]
    assert cookies["access"]["value"] not in body
    script_sees = spa.evaluate("document.cookie")
    assert "access=" not in script_sees and "refresh=" not in script_sees
    expect(spa.locator("#spa-document-cookie")).not_to_contain_text("access=")


def test_spa_dashboard_shows_access_granted(spa):
    spa.get_by_role("button", name="Call the dashboard").click()

    expect(spa.locator("#spa-status")).to_have_text("200: access granted.")
    expect(spa.locator("#spa-output")).to_contain_text("Access granted to bob")


def test_spa_header_shows_jwt_cookie_after_reload(spa):
    spa.reload()

    expect(spa.locator(".auth-status")).to_have_attribute("data-auth-via", "jwt-cookie")
    expect(spa.locator(".auth-status")).to_contain_text("Token for bob")


def test_spa_refreshes_expired_access_token_silently(spa):
    spa.context.clear_cookies(name="access")  # as if its five minutes were up
    calls = []
    spa.on("response", lambda response: calls.append((urlsplit(response.url).path, response.status)))

    spa.get_by_role("button", name="Call the dashboard").click()

    expect(spa.locator("#spa-status")).to_have_text("200: access granted.")
    expect(spa.locator("#spa-refreshes")).to_have_text("1")
    assert calls == [("/api/dashboard/", 401), ("/api/cookie/refresh/", 200), ("/api/dashboard/", 200)]
    assert "access" in {c["name"] for c in spa.context.cookies()}


def test_spa_logout_clears_cookies_and_refuses_dashboard(spa):
    spa.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(spa.locator("#spa-status")).to_contain_text("Logged out")
    assert not {"access", "refresh"} & {c["name"] for c in spa.context.cookies()}

    spa.get_by_role("button", name="Call the dashboard").click()

    expect(spa.locator("#spa-status")).to_have_text("401: refused.")
    expect(spa.locator("#spa-state")).to_have_text("no")


def test_spa_two_tabs_refreshing_at_once_take_turns_and_stay_logged_in(spa):
    other = spa.context.new_page()
    other.goto("/spa/")
    spa.context.clear_cookies(name="access")  # both tabs find the access token expired
    refreshes, held = [], []
    spa.context.on("request", lambda r: r.url.endswith("/api/cookie/refresh/") and refreshes.append("sent"))
    spa.context.on("response", lambda r: r.url.endswith("/api/cookie/refresh/") and refreshes.append(r.status))
    # The first refresh waits at the browser's edge until both tabs have been refused, so
    # both tabs want to refresh while it is in flight; the rest go straight to the server.
    spa.context.route("**/api/cookie/refresh/", lambda route: held.append(route) if not held else route.continue_())

    with spa.expect_response("**/api/dashboard/") as first, other.expect_response("**/api/dashboard/") as second:
        for tab in (spa, other):  # click without waiting for the answers
            tab.evaluate("document.getElementById('spa-dashboard').click()")
    assert (first.value.status, second.value.status) == (401, 401)
    for _ in range(100):  # let the browser hand the held refresh over
        if held:
            break
        spa.wait_for_timeout(20)
    held[0].continue_()

    for tab in (spa, other):
        expect(tab.locator("#spa-status")).to_have_text("200: access granted.")
    assert refreshes == ["sent", 200, "sent", 200]  # one at a time, each with the live token
    assert TokenFamily.objects.get().revoked_at is None
