"""Browser fixtures: Playwright for Python driving Debian's Chromium (tests/e2e).

Playwright's own browser download does not work here; the real browser is the distribution's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import PASSWORD
from tests.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP, ROOT, need

AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run; every test gets its own contexts."""
    if not CHROMIUM.exists():
        need(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this thread, and Django
    # then refuses ORM calls (SynchronousOnlyOperation). Nothing here is async: the loop only
    # talks to the browser. Playwright documents this setting for Django's test runner.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser, app_server, transactional_db):
    """Open isolated browser contexts (own cookies, own storage) on the shared server."""
    contexts = []

    def _open(**options):
        context = browser.new_context(**{"base_url": app_server.url, "viewport": DESKTOP, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh context of its own."""
    return new_context().new_page()


@pytest.fixture
def browser_login():
    """Log `page` in through a real login form, the one browser login of the suite.

    The site's form (`remember` ticks or unticks "Remember me") lands on the profile; with
    `spa=True`, the single-page client's form (POST /api/cookie/login/) shows the user as
    logged in. With `succeeds=False` (a wrong password) it only submits: the test checks
    the answer.
    """

    def _login(page, user, password: str = PASSWORD, *, remember=None, spa=False, succeeds=True) -> None:
        page.goto("/spa/" if spa else "/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password", exact=True).fill(password)
        if remember is not None:
            page.get_by_label("Remember me").set_checked(remember)
        if not spa:
            page.get_by_role("button", name="Log in").click()
            if succeeds:
                page.wait_for_url("**/accounts/profile/")
            return
        with page.expect_response("**/api/cookie/login/") as login:
            page.get_by_role("button", name="Log in with tokens").click()
        if succeeds:
            from playwright.sync_api import expect

            assert login.value.status == 200
            expect(page.locator("#spa-state")).to_have_text(f"yes, as {user.username}")

    return _login


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE_SCRIPT.exists():
        need(f"axe-core is not installed at {AXE_SCRIPT} (run `npm ci`, or `make test`)")
    return AXE_SCRIPT.read_text()


@pytest.fixture
def axe(axe_script):
    """Run axe-core in `page`; return its serious and critical violations."""

    def _run(page) -> list[dict]:
        # evaluate(), not a <script> tag, so a Content-Security-Policy cannot block it.
        page.evaluate(axe_script)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]

    return _run


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the run leaves a picture of every main page (git-ignored, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
