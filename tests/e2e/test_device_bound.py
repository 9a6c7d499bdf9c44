"""DBSC end to end: Debian's Chromium registers, refreshes, and a copied cookie is refused.

The TLS server and the DBSC-enabled Chromium are tests/e2e/dbsc.py's.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from devicebound.models import DeviceBinding
from tests.e2e.dbsc import BOUND_COOKIE, SESSION_COOKIE, cookies_of, thief_get
from tests.support import eventually

pytest_plugins = ["tests.e2e.dbsc"]  # its fixtures: tls_server, dbsc_page
pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_chromium_binds_the_session_at_login(dbsc_page, alice, browser_login):
    browser_login(dbsc_page, alice)
    eventually(lambda: DeviceBinding.objects.filter(session__user=alice).exists(), what="Chromium registers a key")
    binding = DeviceBinding.objects.get(session__user=alice)
    assert binding.algorithm == "ES256"
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    dbsc_page.goto("/accounts/sessions/")
    expect(dbsc_page.locator("table").first.locator("tbody tr")).to_contain_text("device-bound")


def test_chromium_refreshes_the_bound_cookie(dbsc_page, alice, browser_login):
    browser_login(dbsc_page, alice)
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    first = cookies_of(dbsc_page)[BOUND_COOKIE]
    registered = DeviceBinding.objects.get(session__user=alice).refreshed_at
    dbsc_page.wait_for_timeout(6_000)  # real time: the browser's own refresh threshold (120 s) must pass
    dbsc_page.goto("/accounts/profile/")
    eventually(
        lambda: DeviceBinding.objects.get(session__user=alice).refreshed_at > registered, what="a signed refresh"
    )
    eventually(lambda: cookies_of(dbsc_page)[BOUND_COOKIE] != first, what="a new bound cookie")
    dbsc_page.goto("/accounts/profile/")
    expect(dbsc_page.locator(".auth-status")).to_have_attribute("data-auth-via", "session")


def test_copied_session_cookie_is_refused_once_bound(dbsc_page, alice, browser_login, tls_server):
    browser_login(dbsc_page, alice)
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    stolen = cookies_of(dbsc_page)
    refused = thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE]})
    assert refused.status_code == 302
    assert refused.headers["Location"] == "/accounts/login/?next=/accounts/profile/"
    # With the bound cookie too, the copy works until that cookie expires (minutes, not days).
    assert thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE], BOUND_COOKIE: stolen[BOUND_COOKIE]}).ok
    dbsc_page.goto("/accounts/profile/")
    expect(dbsc_page.locator(".auth-status")).to_have_attribute("data-auth-via", "session")
