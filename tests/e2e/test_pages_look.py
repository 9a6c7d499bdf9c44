"""Every main page: a screenshot at desktop and phone width, axe-core, keyboard and focus.

The screenshots land in artifacts/screenshots/ (git-ignored) so a person can look at the
whole site at once.
"""

from pprint import pformat

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.support import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.server]

# name, path, who is looking
PAGES = [
    ("home", "/", None),
    ("home-session", "/", "alice"),
    ("cookies", "/cookies/", None),
    ("login", "/accounts/login/", None),
    ("signup", "/accounts/signup/", None),
    ("profile", "/accounts/profile/", "alice"),
    ("sessions", "/accounts/sessions/", "alice"),
    ("password", "/accounts/password/", "alice"),
    ("password-reset", "/accounts/password/reset/", None),
    ("password-reset-sent", "/accounts/password/reset/sent/", None),
    ("spa", "/spa/", None),
    ("compare", "/compare/", None),
    ("compare-session", "/compare/", "alice"),
    ("not-found", "/no-such-page/", None),
    ("admin", "/admin/", "admin"),
    ("api-docs", "/api/docs/", None),
]
# Django's admin and Swagger UI: their markup is not ours, so no keyboard walk; axe still checks
# them. Swagger UI's own markup has these (its method badges' contrast, no <html lang>, a link
# inside its expand button); any other violation fails.
THIRD_PARTY = {"admin", "api-docs"}
KNOWN_VIOLATIONS = {"api-docs": {"color-contrast", "html-has-lang", "nested-interactive"}}

# Everything a keyboard user should be able to reach, as the browser sees it.
FOCUSABLE = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
)].filter((el) => !el.disabled && el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
  .map((el, i) => { el.dataset.kb = String(i); return i; })"""
FOCUSED = """() => {
    const el = document.activeElement, style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {kb: el.dataset.kb ?? null, tag: el.tagName, text: (el.innerText || el.name || '').slice(0, 40),
            visible: outline || style.boxShadow !== 'none'};
}"""


@pytest.fixture
def visit(new_context, alice, staff, browser_login):
    """Open `path` in a fresh context as `who` (None: anonymous) at desktop width.

    On her sessions page Alice has a second browser session and an API login, so the
    tables show rows; the cookie demo is loaded twice, so it shows the cookie coming back.
    """

    def _visit(path: str, who: str | None):
        page = new_context().new_page()
        if path == "/accounts/sessions/":
            browser_login(new_context().new_page(), alice)
            page.request.post("/api/token/", data={"username": "alice", "password": PASSWORD})
        if who:
            browser_login(page, {"alice": alice, "admin": staff}[who])
        response = page.goto(path)
        assert response.status < 500
        if path == "/cookies/":
            page.reload()
        expect(page.locator(".auth-status, #user-tools, .swagger-ui .info").first).to_be_visible()
        return page

    return _visit


def keyboard_problems(page) -> dict:
    """Tab through the page; name the controls never reached and those focused invisibly."""
    wanted = set(page.evaluate(FOCUSABLE))
    reached, invisible = set(), []
    for _ in range(len(wanted) + 5):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["kb"] is not None:
            reached.add(int(focused["kb"]))
            if not focused["visible"]:
                invisible.append(focused)
    return {"unreachable by keyboard": sorted(wanted - reached), "focus not visible": invisible}


def axe_summary(violations: list[dict], page_name: str) -> list:
    known = KNOWN_VIOLATIONS.get(page_name, set())
    return [(v["id"], v["impact"], [node["target"] for node in v["nodes"]]) for v in violations if v["id"] not in known]


@pytest.mark.parametrize(("name", "path", "who"), PAGES, ids=[p[0] for p in PAGES])
def test_page_is_accessible_and_reads_well_at_desktop_and_phone(visit, axe, screenshot_dir, name, path, who):
    """Screenshot the page at both widths; axe-core, the keyboard and phone layout find nothing."""
    page = visit(path, who)
    page.screenshot(path=screenshot_dir / f"{name}-desktop.png", full_page=True)
    problems = {"axe at desktop width": axe_summary(axe(page), name)}
    if name not in THIRD_PARTY:
        problems.update(keyboard_problems(page))

    page.evaluate("document.activeElement.blur()")  # the keyboard walk's last focus
    page.set_viewport_size(PHONE)
    page.screenshot(path=screenshot_dir / f"{name}-phone.png", full_page=True)
    problems["axe at 375 px"] = axe_summary(axe(page), name)
    problems["sideways scroll at 375 px"] = page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]

    found = {key: value for key, value in problems.items() if value}
    assert not found, pformat(found, width=110)


def test_messages_screenshots(page, alice, browser_login, screenshot_dir):
    browser_login(page, alice, "wrong", succeeds=False)
    expect(page.get_by_role("alert")).to_be_visible()
    page.screenshot(path=screenshot_dir / "message-error-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=screenshot_dir / "message-error-phone.png", full_page=True)

    browser_login(page, alice)
    page.get_by_role("banner").get_by_role("button", name="Log out").click()

    expect(page.locator(".message-success")).to_be_visible()
    page.screenshot(path=screenshot_dir / "message-success-phone.png", full_page=True)
