"""The cookie demo in a real browser: the cookie is set, sent back, and hidden from scripts."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_cookie_demo_sets_cookie_and_shows_it_sent_back(page):
    page.goto("/cookies/")
    expect(page.locator("#set-cookie")).to_contain_text("Set-Cookie: user=john_doe")
    expect(page.locator("#set-cookie")).to_contain_text("HttpOnly")
    cookie = next(c for c in page.context.cookies() if c["name"] == "user")
    assert (cookie["value"], cookie["httpOnly"], cookie["sameSite"]) == ("john_doe", True, "Lax")

    page.reload()

    row = page.locator("#received-cookies tr", has_text="user")
    expect(row).to_contain_text("john_doe")


def test_cookie_demo_cookie_is_invisible_to_page_script(page):
    page.goto("/cookies/")
    page.reload()
    expect(page.locator("#received-cookies")).to_contain_text("john_doe")

    assert "john_doe" not in page.evaluate("document.cookie")
