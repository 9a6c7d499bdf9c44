"""Ending a session from elsewhere: the sessions page and the admin, in real browsers."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def admin_page(new_context, staff, browser_login):
    page = new_context().new_page()
    browser_login(page, staff)
    return page


def run_admin_action(page, row_text: str, action: str) -> None:
    """Tick the changelist row that shows `row_text`, pick `action`, press Go."""
    page.locator("#result_list tbody tr", has_text=row_text).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def test_revoking_other_session_logs_it_out_on_next_load(new_context, alice, browser_login):
    mine, other = new_context().new_page(), new_context().new_page()
    browser_login(other, alice)
    browser_login(mine, alice)
    mine.goto("/accounts/sessions/")
    rows = mine.locator("table").first.locator("tbody tr")
    expect(rows).to_have_count(2)

    rows.filter(has_not_text="this session").get_by_role("button", name="Revoke").click()

    expect(mine.locator(".message-success")).to_contain_text("Session ended")
    expect(rows).to_have_count(1)
    other.reload()
    expect(other).to_have_url("/accounts/login/?next=/accounts/profile/")
    expect(other.locator(".auth-status")).to_have_attribute("data-auth-via", "anonymous")
    mine.reload()
    expect(mine.locator(".auth-status")).to_have_attribute("data-auth-via", "session")


def test_admin_revoke_action_logs_alice_out(new_context, admin_page, alice, browser_login):
    alices = new_context().new_page()
    browser_login(alices, alice)
    admin_page.goto("/admin/accounts/usersession/")

    run_admin_action(admin_page, "alice", "Revoke selected sessions")

    expect(admin_page.locator(".messagelist")).to_contain_text("Revoked 1 session(s)")
    alices.goto("/accounts/sessions/")
    expect(alices).to_have_url("/accounts/login/?next=/accounts/sessions/")
    admin_page.goto("/admin/")
    expect(admin_page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_admin_log_out_everywhere_ends_alices_session_and_spa_login(new_context, admin_page, alice, browser_login):
    web, spa = new_context().new_page(), new_context().new_page()
    browser_login(web, alice)
    browser_login(spa, alice, spa=True)
    spa.get_by_role("button", name="Call the dashboard").click()
    expect(spa.locator("#spa-status")).to_have_text("200: access granted.")
    admin_page.goto("/admin/accounts/user/")

    run_admin_action(admin_page, "alice", "Log out everywhere")

    expect(admin_page.locator(".messagelist")).to_contain_text("Logged out 1 user(s) everywhere")
    web.reload()
    expect(web).to_have_url("/accounts/login/?next=/accounts/profile/")
    with spa.expect_response("**/api/cookie/refresh/") as refresh:
        spa.get_by_role("button", name="Call the dashboard").click()
    assert refresh.value.status == 401
    expect(spa.locator("#spa-status")).to_have_text("401: refused.")
    expect(spa.locator("#spa-state")).to_have_text("no")
