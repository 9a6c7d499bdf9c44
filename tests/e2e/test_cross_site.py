"""The same small SPA on a second site (http://localhost:PORT) calling the API (http://127.0.0.1:PORT),
five ways, in Debian's Chromium: what works, with third-party cookies allowed and blocked, what a
script in the page can read and do, what another site can make the browser send, whether a reload
keeps the login, and what one API call costs. Every cell goes to bench/results/crosssite.json
(crosssite.results), which /compare/'s 'Best for' row draws.

Third-party cookies: Playwright's contexts are off-the-record, and Chromium blocks third-party
cookies there (the cookie is refused with blockedReasons ['UserPreferences']). A persistent profile
whose Preferences say `profile.cookie_controls_mode` 0 allows them, 1 blocks them, as the settings page
does; the test-only switch --test-third-party-cookie-phaseout changed nothing in Chromium 156.
"""

from __future__ import annotations

import json
import statistics

import pytest
import requests
from playwright.sync_api import expect

from crosssite.results import results_path
from harness.stack import Server, free_port
from tests.e2e.results import merge_into
from tests.factories import PASSWORD
from tests.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.server]

# way id -> (the page's way, cookie attributes)
WAYS = {
    "bearer": ("bearer", "lax"),
    "token-cookie-lax": ("token-cookie", "lax"),
    "token-cookie-none": ("token-cookie", "none"),
    "token-cookie-partitioned": ("token-cookie", "partitioned"),
    "session-cookie-lax": ("session-cookie", "lax"),
    "session-cookie-none": ("session-cookie", "none"),
    "session-cookie-partitioned": ("session-cookie", "partitioned"),
    "bff": ("bff", "lax"),
    "dpop": ("dpop", "lax"),
}
# Where each way's call goes, and the cookie that would carry its credential there.
CALL_PATH = {"bearer": "/api/dashboard/", "token-cookie": "/api/dashboard/", "session-cookie": "/api/me/",
             "bff": "/api/bff/dashboard/", "dpop": "/api/dashboard/"}  # fmt: skip
CREDENTIAL_COOKIE = {"token-cookie": "access", "session-cookie": "sessionid", "bff": "sessionid"}
LATENCY_CALLS = 40

# Wrap fetch: every later call of the page records its request headers and JSON answer (XSS).
HOOK_FETCH = """() => {
  window.__seen = [];
  const original = window.fetch;
  window.fetch = async (input, init = {}) => {
    const response = await original(input, init);
    const body = await response.clone().json().catch(() => ({}));
    window.__seen.push({ headers: init.headers || {}, body });
    return response;
  };
}"""

# What an injected script can do on its own: call the API as the page would, with what it found.
ACT = """async ([way, api, token]) => {
  const call = async (url, init) => (await fetch(url, init)).status;
  if (way === "bff") return call("/api/bff/dashboard/", { credentials: "same-origin" });
  if (way === "token-cookie") return call(api + "/api/dashboard/", { credentials: "include" });
  if (way === "session-cookie") return call(api + "/api/me/", { credentials: "include" });
  if (way === "bearer") return call(api + "/api/dashboard/", { headers: { Authorization: "Bearer " + token } });
  const url = api + "/api/dashboard/";
  let nonce;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const proof = await window.authdemoDpop.proof("GET", url, { nonce, accessToken: token });
    const response = await fetch(url, { headers: { Authorization: "DPoP " + token, DPoP: proof } });
    nonce = response.headers.get("DPoP-Nonce");
    if (response.status !== 401 || attempt) return response.status;
  }
}"""

EVIL_PAGE = "<!doctype html><title>another site</title><p>Nothing to see.</p>"


def _two_sites(server_env, tmp_path_factory, *, credentials: bool) -> Server:
    port = free_port()
    env = {
        **server_env,
        "CROSS_SITE_ORIGIN": f"http://localhost:{port}",
        "CROSS_SITE_API": f"http://127.0.0.1:{port}",
        "CORS_ALLOW_CREDENTIALS": str(credentials).lower(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    log = tmp_path_factory.mktemp("crosssite") / "server.log"
    return Server("crosssite", env, log, app="authdemo.wsgi", port=port, access_log=True)


@pytest.fixture(scope="module")
def two_sites(server_env, tmp_path_factory):
    """One authdemo process serving the API on 127.0.0.1:PORT and the second site on localhost:PORT,
    CORS allowing only that origin, with credentials (the cookie ways need them)."""
    server = _two_sites(server_env, tmp_path_factory, credentials=True).start().wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def two_sites_without_credentials(server_env, tmp_path_factory):
    """The same, with the default configuration: CORS for that origin without credentials."""
    server = _two_sites(server_env, tmp_path_factory, credentials=False).start().wait_ready()
    yield server
    server.stop()


def _profile(browser, tmp_path_factory, *, block_third_party: bool):
    directory = tmp_path_factory.mktemp("profile")
    (directory / "Default").mkdir()
    mode = 1 if block_third_party else 0  # chrome://settings/cookies: 0 allow, 1 block third-party
    (directory / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": mode}}))
    return browser.browser_type.launch_persistent_context(
        str(directory), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, viewport=DESKTOP
    )


@pytest.fixture(scope="module")
def profiles(browser, tmp_path_factory):
    """Two Chromium profiles: third-party cookies allowed, and blocked."""
    opened = {kind: _profile(browser, tmp_path_factory, block_third_party=kind == "blocked")
              for kind in ("allowed", "blocked")}  # fmt: skip
    yield opened
    for context in opened.values():
        context.close()


@pytest.fixture(scope="module")
def table(browser):
    """Collect the module's measured cells; merge them into the results file at the end."""
    rows: dict[str, dict] = {}
    yield rows
    if rows:
        merge_into(results_path(), "ways", rows, browser, per_cell=True, latency_calls=LATENCY_CALLS)


def open_second_site(profile, server):
    profile.clear_cookies()
    page = profile.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"http://localhost:{server.port}/")
    return page


def choose(page, way: str, cookie: str) -> None:
    page.locator(f'input[name="way"][value="{way}"]').check()
    page.get_by_label("Cookie attributes").select_option(cookie)


def log_in(page, user, way: str, cookie: str) -> str:
    choose(page, way, cookie)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#xs-status")).not_to_have_text("Not called yet.")
    return page.locator("#xs-status").inner_text()


def call(page) -> str:
    page.locator("#xs-status").evaluate("node => { node.textContent = 'calling'; }")
    page.get_by_role("button", name="Call the API").click()
    expect(page.locator("#xs-status")).not_to_have_text("calling")
    return page.locator("#xs-status").inner_text()


def works(page, user, way_id: str) -> bool:
    way, cookie = WAYS[way_id]
    return log_in(page, user, way, cookie).startswith("200") and call(page).startswith("200")


def latency_ms(page) -> float:
    times = []
    for _ in range(LATENCY_CALLS):
        assert call(page).startswith("200")
        times.append(float(page.locator("#xs-latency").inner_text().removesuffix(" ms")))
    return round(statistics.median(times), 1)


def what_a_script_gets(page, server, way: str) -> dict:
    """Hook fetch, let the page make one call, and report what an injected script saw and could do."""
    page.evaluate(HOOK_FETCH)
    call(page)
    seen = page.evaluate("() => window.__seen")
    sent = [
        value for entry in seen for value in entry["headers"].values() if str(value).startswith(("Bearer ", "DPoP "))
    ]
    token = sent[-1].split(" ", 1)[1] if sent else None
    document_cookie = page.evaluate("() => document.cookie")
    elsewhere = None
    if token:  # a thief's plain HTTP client, elsewhere, with the token read from the page
        answer = requests.get(f"{server.url}/api/dashboard/", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        elsewhere = answer.status_code == 200
    acts = page.evaluate(ACT, [way, server.url, token]) == 200
    return {"reads_token": bool(token) or "access=" in document_cookie, "stolen_token_works_elsewhere": elsewhere,
            "acts_as_user_in_page": acts, "document_cookie": document_cookie}  # fmt: skip


def another_site_sends_the_credential(profile, server, way: str) -> bool:
    """Open a page of a third site (evil.localhost: *.localhost is loopback to Chromium, and another
    site than localhost) that fires a no-cors request at the way's endpoint; report whether the
    browser attached the way's credential cookie to it (what a CSRF needs)."""
    if way not in CREDENTIAL_COOKIE:
        return False
    evil = f"http://evil.localhost:{server.port}/"
    host = "localhost" if way == "bff" else "127.0.0.1"
    target = f"http://{host}:{server.port}{CALL_PATH[way]}"
    page = profile.new_page()
    page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=EVIL_PAGE))
    page.goto(evil)
    with page.expect_request(target) as sent:
        page.evaluate("url => fetch(url, { mode: 'no-cors', credentials: 'include' }).catch(() => null)", target)
    cookie = sent.value.all_headers().get("cookie", "")
    page.close()
    return f"{CREDENTIAL_COOKIE[way]}=" in cookie


# What each way does with third-party cookies allowed (True: logs in and calls the API).
EXPECTED_ALLOWED = {"bearer": True, "token-cookie-lax": False, "token-cookie-none": True,
                    "token-cookie-partitioned": True, "session-cookie-lax": False, "session-cookie-none": True,
                    "session-cookie-partitioned": True, "bff": True, "dpop": True}  # fmt: skip
EXPECTED_BLOCKED = {**EXPECTED_ALLOWED, "token-cookie-none": False, "session-cookie-none": False}


@pytest.mark.parametrize("way_id", list(WAYS))
def test_cross_site_way_with_third_party_cookies_blocked(way_id, two_sites, profiles, table, transactional_db, bob):
    page = open_second_site(profiles["blocked"], two_sites)

    result = works(page, bob, way_id)

    table.setdefault(way_id, {})["works_third_party_cookies_blocked"] = result
    page.close()
    assert result is EXPECTED_BLOCKED[way_id]


@pytest.mark.parametrize("way_id", list(WAYS))
def test_cross_site_way_with_third_party_cookies_allowed(way_id, two_sites, profiles, table, transactional_db, bob):
    page = open_second_site(profiles["allowed"], two_sites)

    result = works(page, bob, way_id)

    cells = table.setdefault(way_id, {})
    cells["works_third_party_cookies_allowed"] = result
    cells["status"] = page.locator("#xs-status").inner_text()
    page.close()
    assert result is EXPECTED_ALLOWED[way_id]


WORKING = [way_id for way_id, ok in EXPECTED_ALLOWED.items() if ok]
# What a script injected into the page reads: the bearer and DPoP tokens (sent from the page's
# memory), never an HttpOnly cookie nor what the backend-for-frontend holds.
READS_TOKEN = {"bearer": True, "dpop": True}
# Which credential another site can make the browser send (CSRF): an unpartitioned SameSite=None
# cookie; a partitioned one lives in the second site's jar only; the BFF's cookie is same-site.
SENT_BY_ANOTHER_SITE = {"token-cookie-none": True, "session-cookie-none": True}
SURVIVES_RELOAD = {"bearer": False, "dpop": False}


@pytest.mark.parametrize("way_id", WORKING)
def test_cross_site_way_measured(way_id, two_sites, profiles, table, transactional_db, bob):
    way, _ = WAYS[way_id]
    profile = profiles["allowed"]
    page = open_second_site(profile, two_sites)
    assert works(page, bob, way_id)

    cells = table.setdefault(way_id, {})
    cells["latency_ms"] = latency_ms(page)
    cells |= what_a_script_gets(page, two_sites, way)
    cells["sent_by_another_site"] = another_site_sends_the_credential(profile, two_sites, way)
    page.reload()
    choose(page, *WAYS[way_id])
    cells["survives_reload"] = call(page).startswith("200")
    page.close()

    assert cells["reads_token"] is READS_TOKEN.get(way_id, False)
    assert cells["stolen_token_works_elsewhere"] is {"bearer": True, "dpop": False}.get(way_id)
    assert cells["acts_as_user_in_page"] is True
    assert cells["sent_by_another_site"] is SENT_BY_ANOTHER_SITE.get(way_id, False)
    assert cells["survives_reload"] is SURVIVES_RELOAD.get(way_id, True)


# Without Access-Control-Allow-Credentials the browser keeps a credentialed answer from the page: the
# cookie ways fail even with SameSite=None and third-party cookies allowed; the others need none.
WITHOUT_CREDENTIALS = {"bearer": True, "token-cookie-none": False, "session-cookie-partitioned": False, "bff": True,
                       "dpop": True}  # fmt: skip


@pytest.mark.parametrize("way_id", list(WITHOUT_CREDENTIALS))
def test_cross_site_way_without_cors_credentials(way_id, two_sites_without_credentials, profiles, table,
                                                 transactional_db, bob):  # fmt: skip
    page = open_second_site(profiles["allowed"], two_sites_without_credentials)

    result = works(page, bob, way_id)

    table.setdefault(way_id, {})["works_without_cors_credentials"] = result
    page.close()
    assert result is WITHOUT_CREDENTIALS[way_id]


def test_second_site_page_is_accessible(two_sites, profiles, axe):
    page = open_second_site(profiles["allowed"], two_sites)

    violations = axe(page)

    page.close()
    assert violations == []
