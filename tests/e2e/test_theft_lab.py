"""The theft lab, measured: each credential stolen by a thief elsewhere, and used by a script in the page.

A thief is a plain HTTP client (requests, as curl would be) holding a copy of the credential.
The injected script is page.evaluate(): a script running in the page's own origin, as XSS
would. Each test records what it measured, cell by cell, before asserting it; the module
writes the cells to bench/results/theft.json (authdemo.theft.results_path()), which /theft/ draws.
"""

from __future__ import annotations

import json
import time

import jwt
import pytest
import requests
from playwright.sync_api import expect

from authdemo.theft import results_path
from scripts.dpop_demo import DpopKey
from tests.e2e.dbsc import BOUND_COOKIE, BOUND_COOKIE_AGE, SESSION_COOKIE, cookies_of, thief_get
from tests.e2e.injected import HOOK_FETCH, READ_DPOP_KEY, SIGN_PROOF, STOLEN, dpop_login, stolen_access
from tests.e2e.results import merge_into
from tests.support import eventually

pytest_plugins = ["tests.e2e.dbsc"]  # its fixtures: tls_server, dbsc_page
pytestmark = [pytest.mark.browser, pytest.mark.server]

CALL_WITH_CREDENTIALS = """async ([path, method, csrf]) => {
  const headers = csrf ? { "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content } : {};
  const response = await fetch(path, { method, credentials: "same-origin", headers, redirect: "manual" });
  return { status: response.status, text: await response.text() };
}"""

# The injected script calls the dashboard with the page's stolen token and a proof it has the
# page's key sign; it fetches the server's nonce first, as the page does.
CALL_WITH_KEY = """async ([path, method, token, body]) => {
  const url = location.origin + path;
  const send = async (nonce) => {
    const headers = { DPoP: await window.authdemoDpop.proof(method, url, { nonce, accessToken: token }) };
    if (token) headers.Authorization = "DPoP " + token;
    if (body) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, body: body && JSON.stringify(body), credentials: "omit" });
  };
  const first = await send(undefined);
  const response = await send(first.headers.get("DPoP-Nonce"));
  return { status: response.status, body: await response.json(), nonce: response.headers.get("DPoP-Nonce") };
}"""


@pytest.fixture(scope="module")
def lab(browser):
    """Collect the module's measured cells; merge them into the results file at the end."""
    rows: dict[str, dict] = {}
    yield rows
    if rows:
        merge_into(results_path(), "rows", rows, browser)


def cell(outcome: str, detail: str) -> dict:
    return {"outcome": outcome, "detail": detail}


def lifetime(token: str) -> int:
    claims = jwt.decode(token, options={"verify_signature": False})
    return round(claims["exp"] - claims["iat"])


def replay(base: str, cookie_header: str, path: str) -> requests.Response:
    """Elsewhere, the cookies a script exfiltrated from document.cookie, as it read them."""
    return requests.get(f"{base}{path}", headers={"Cookie": cookie_header}, allow_redirects=False, timeout=10)


def test_session_cookie(page, bob, browser_login, app_server, lab):
    browser_login(page, bob)
    jar = {c["name"]: c for c in page.context.cookies()}
    session = jar["sessionid"]
    thief = requests.get(
        f"{app_server.url}/accounts/profile/", cookies={"sessionid": session["value"]}, allow_redirects=False
    )
    days = (session["expires"] - time.time()) / 86400 if session["expires"] > 0 else None
    seen = page.evaluate("document.cookie")
    used = page.evaluate(CALL_WITH_CREDENTIALS, ["/accounts/profile/", "GET", False])
    later = replay(app_server.url, seen, "/accounts/profile/")

    lab["session_cookie"] = {
        "thief": cell(
            "accepted" if thief.status_code == 200 else "refused",
            f"GET /accounts/profile/ with the copied cookie: {thief.status_code}. It works for as long as the "
            f"session does: until logout, a revocation, or its expiry"
            + (f" ({days:.1f} days here)." if days else " (a browser-session cookie here)."),
        ),
        "read": cell(
            "yes" if "sessionid" in seen else "no",
            f"document.cookie is {json.dumps(seen)}: the session cookie is HttpOnly.",
        ),
        "use": cell(
            "yes" if used["status"] == 200 and "bob" in used["text"].lower() else "no",
            f"fetch('/accounts/profile/', credentials: 'same-origin'): {used['status']}; the browser attaches "
            "the cookie it cannot read.",
        ),
        "after_close": cell(
            "yes" if later.status_code == 200 else "no",
            f"what it could carry away (document.cookie), replayed elsewhere: {later.status_code} "
            f"(to {later.headers.get('Location', '-')}).",
        ),
    }
    assert thief.status_code == 200
    assert "sessionid" not in seen
    assert used["status"] == 200
    assert later.status_code == 302


def test_cookie_mode_access_and_refresh_tokens(page, bob, browser_login, app_server, lab):
    browser_login(page, bob, spa=True)
    jar = {c["name"]: c["value"] for c in page.context.cookies()}
    dashboard = f"{app_server.url}/api/dashboard/"
    bearer = requests.get(dashboard, headers={"Authorization": f"Bearer {jar['access']}"}, timeout=10)
    seen = page.evaluate("document.cookie")
    used = page.evaluate(CALL_WITH_CREDENTIALS, ["/api/dashboard/", "GET", False])
    later = replay(app_server.url, seen, "/api/dashboard/")
    # The thief refreshes with the copied jar (refresh cookie, CSRF cookie and its header).
    thief = requests.Session()
    thief.cookies.update({"refresh": jar["refresh"], "csrftoken": jar["csrftoken"]})
    stolen_refresh = thief.post(
        f"{app_server.url}/api/cookie/refresh/", headers={"X-CSRFToken": jar["csrftoken"]}, timeout=10
    )
    refreshed_in_page = page.evaluate(CALL_WITH_CREDENTIALS, ["/api/cookie/refresh/", "POST", True])
    # The owner logs out (the refresh token's family is revoked): what do the thief's copies do now?
    page.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(page.locator("#spa-status")).to_contain_text("Logged out")  # "Logged in" also says "Log"
    bearer_after = requests.get(dashboard, headers={"Authorization": f"Bearer {jar['access']}"}, timeout=10)
    thief_again = thief.post(
        f"{app_server.url}/api/cookie/refresh/", headers={"X-CSRFToken": jar["csrftoken"]}, timeout=10
    )

    lab["bearer_access"] = {
        "thief": cell(
            "accepted" if bearer.status_code == 200 else "refused",
            f"the access cookie's value sent as Authorization: Bearer: {bearer.status_code}; after the owner's "
            f"logout: {bearer_after.status_code}. It lives {lifetime(jar['access'])} s.",
        ),
        "read": cell("yes" if "access=" in seen else "no", f"document.cookie is {json.dumps(seen)}: HttpOnly."),
        "use": cell(
            "yes" if used["status"] == 200 else "no",
            f"fetch('/api/dashboard/', credentials: 'same-origin'): {used['status']}.",
        ),
        "after_close": cell(
            "yes" if later.status_code == 200 else "no",
            f"document.cookie replayed elsewhere: {later.status_code}.",
        ),
    }
    lab["refresh_cookie"] = {
        "thief": cell(
            "accepted" if stolen_refresh.status_code == 200 else "refused",
            f"POST /api/cookie/refresh/ with the copied cookies (and the CSRF cookie's value as header): "
            f"{stolen_refresh.status_code}, a new pair; the thief keeps rotating until the owner logs out "
            f"(then {thief_again.status_code}), the family is revoked, or {lifetime(jar['refresh']) // 3600} h pass.",
        ),
        "read": cell(
            "yes" if "refresh=" in seen else "no",
            "HttpOnly and Path=/api/cookie/: not in document.cookie.",
        ),
        "use": cell(
            "yes" if refreshed_in_page["status"] == 200 else "no",
            f"fetch POST /api/cookie/refresh/ with the page's CSRF token: {refreshed_in_page['status']}, new "
            "cookies it cannot read either.",
        ),
        "after_close": cell("yes" if "refresh=" in seen else "no", "nothing to carry away: it never sees the value."),
    }
    assert bearer.status_code == 200
    assert "access=" not in seen and "refresh=" not in seen
    assert used["status"] == 200 and later.status_code == 401
    assert stolen_refresh.status_code == 200 and refreshed_in_page["status"] == 200
    assert thief_again.status_code == 401


def test_dpop_access_and_refresh_tokens_in_memory(page, bob, app_server, lab):
    dpop_login(page, bob)
    page.evaluate(HOOK_FETCH)
    page.get_by_role("button", name="Refresh the tokens").click()
    expect(page.locator("#spa-refreshes")).to_have_text("1")
    page.get_by_role("button", name="Call the dashboard").click()
    expect(page.locator("#spa-status")).to_have_text("200: access granted.")
    access = stolen_access(page)
    refresh = [c for c in page.evaluate(STOLEN) if c["url"].endswith("/api/token/refresh/")][-1]["body"]["refresh"]
    key = page.evaluate(READ_DPOP_KEY)
    base, other = app_server.url, DpopKey.generate()
    dashboard, refresh_url = f"{base}/api/dashboard/", f"{base}/api/token/refresh/"

    as_bearer = requests.get(dashboard, headers={"Authorization": f"Bearer {access}"}, timeout=10)
    no_proof = requests.get(dashboard, headers={"Authorization": f"DPoP {access}"}, timeout=10)
    with_key = page.evaluate(CALL_WITH_KEY, ["/api/dashboard/", "GET", access, None])
    nonce = with_key["nonce"]
    other_proof = requests.get(
        dashboard,
        headers={"Authorization": f"DPoP {access}", "DPoP": other.proof("GET", dashboard, token=access, nonce=nonce)},
    )
    # Proofs the script signs in advance and carries away with the token: each once, for 60 s.
    signed = page.evaluate(SIGN_PROOF, ["GET", dashboard, nonce, access, None])
    stale = page.evaluate(SIGN_PROOF, ["GET", dashboard, nonce, access, int(time.time()) - 61])
    headers = {"Authorization": f"DPoP {access}"}
    presigned = [
        requests.get(dashboard, headers={**headers, "DPoP": p}, timeout=10).status_code for p in (signed, signed)
    ]
    stale_status = requests.get(dashboard, headers={**headers, "DPoP": stale}, timeout=10).status_code
    # The refresh token, elsewhere: without a proof, with another key's.
    refresh_bare = requests.post(refresh_url, json={"refresh": refresh}, timeout=10)
    refresh_other = requests.post(
        refresh_url, json={"refresh": refresh}, headers={"DPoP": other.proof("POST", refresh_url, nonce=nonce)}
    )
    page.get_by_role("button", name="Refresh the tokens").click()  # nothing was revoked: the page still refreshes
    expect(page.locator("#spa-refreshes")).to_have_text("2")
    refresh = [c for c in page.evaluate(STOLEN) if c["url"].endswith("/api/token/refresh/")][-1]["body"]["refresh"]
    # The script refreshes with the key, and signs one refresh proof to carry away.
    carried = page.evaluate(SIGN_PROOF, ["POST", refresh_url, nonce, None, None])
    away = requests.post(refresh_url, json={"refresh": refresh}, headers={"DPoP": carried}, timeout=10)
    away_bearer = requests.get(dashboard, headers={"Authorization": f"Bearer {away.json().get('access')}"})
    in_page = page.evaluate(CALL_WITH_KEY, ["/api/token/refresh/", "POST", None, {"refresh": away.json()["refresh"]}])

    lab["dpop_access"] = {
        "thief": cell(
            "accepted" if 200 in (as_bearer.status_code, no_proof.status_code, other_proof.status_code) else "refused",
            f"refused at once: as Bearer {as_bearer.status_code}, as DPoP without a proof {no_proof.status_code}, "
            f"with a proof by another key {other_proof.status_code} ({other_proof.json().get('code')}).",
        ),
        "read": cell(
            "yes" if access else "no",
            "a closure hides it by name, not once the page sends it: a wrapped fetch reads the Authorization header.",
        ),
        "use": cell(
            "yes" if with_key["status"] == 200 else "no",
            f"with the page's key (extractable: {str(key['extractable']).lower()}, export: {key['error']}), "
            f"signing its own proof: {with_key['status']}.",
        ),
        "after_close": cell(
            "yes" if stale_status == 200 or presigned[1] == 200 else "no",
            f"the token alone is refused (see left); a proof signed in advance works once ({presigned[0]}, "
            f"then {presigned[1]}) and only within 60 s of its iat (one dated 61 s back: {stale_status}).",
        ),
    }
    lab["refresh_memory"] = {
        "thief": cell(
            "accepted" if 200 in (refresh_bare.status_code, refresh_other.status_code) else "refused",
            f"refused at once and nothing revoked: without a proof {refresh_bare.status_code}, with another key's "
            f"{refresh_other.status_code} ({refresh_other.json().get('code')}); the page refreshed again after.",
        ),
        "read": cell("yes" if refresh else "no", "read from the page's own refresh call (request and answer)."),
        "use": cell(
            "yes" if in_page["status"] == 200 else "no",
            f"POST /api/token/refresh/ with a proof by the page's key: {in_page['status']}.",
        ),
        "after_close": cell(
            "yes" if away_bearer.status_code == 200 else "no",
            f"a refresh proof signed in advance gets one new pair elsewhere ({away.status_code}, within 60 s), "
            f"but bound to the page's key: its access token as Bearer {away_bearer.status_code}, and each further "
            "call needs another proof from the page.",
        ),
    }
    assert (as_bearer.status_code, no_proof.status_code, other_proof.status_code) == (401, 401, 401)
    assert key["extractable"] is False and with_key["status"] == 200
    assert presigned == [200, 401] and stale_status == 401
    assert (refresh_bare.status_code, refresh_other.status_code) == (400, 400)
    assert away.status_code == 200 and away.json()["token_type"] == "DPoP" and away_bearer.status_code == 401
    assert in_page["status"] == 200


def test_device_bound_session(dbsc_page, alice, browser_login, tls_server, lab):
    browser_login(dbsc_page, alice)
    eventually(lambda: BOUND_COOKIE in cookies_of(dbsc_page), what="the bound cookie")
    stolen = cookies_of(dbsc_page)
    alone = thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE]})
    both = thief_get(tls_server, {SESSION_COOKIE: stolen[SESSION_COOKIE], BOUND_COOKIE: stolen[BOUND_COOKIE]})
    bound = next(c for c in dbsc_page.context.cookies() if c["name"] == BOUND_COOKIE)
    seen = dbsc_page.evaluate("document.cookie")
    dbsc_page.wait_for_timeout(6_000)  # past the browser's refresh threshold (120 s before expiry)
    used = dbsc_page.evaluate(CALL_WITH_CREDENTIALS, ["/accounts/profile/", "GET", False])
    renewed = renewed_within(dbsc_page, stolen[BOUND_COOKIE], seconds=10)
    later = thief_get(tls_server, {}) if not seen else replay_tls(tls_server, seen)

    lab["dbsc_session"] = {
        "thief": cell(
            "accepted" if alone.status_code == 200 else "refused",
            f"the session cookie alone: {alone.status_code} to the login page, at once. With the bound cookie "
            f"copied too: {both.status_code}, until that cookie expires ({int(bound['expires'] - time.time())} s "
            f"left here, DBSC_COOKIE_AGE={BOUND_COOKIE_AGE}; 10 minutes by default); the key to renew it stays "
            "in the browser.",
        ),
        "read": cell(
            "yes" if SESSION_COOKIE in seen or BOUND_COOKIE in seen else "no",
            f"document.cookie is {json.dumps(seen)}: both cookies are HttpOnly.",
        ),
        "use": cell(
            "yes" if used["status"] == 200 else "no",
            f"fetch('/accounts/profile/'): {used['status']}; the browser "
            + ("renewed the bound cookie for it with its key." if renewed else "attached the bound cookie."),
        ),
        "after_close": cell(
            "yes" if later.status_code == 200 else "no",
            f"what it could carry away (document.cookie), replayed elsewhere: {later.status_code}.",
        ),
    }
    assert alone.status_code == 302 and both.status_code == 200
    assert SESSION_COOKIE not in seen and BOUND_COOKIE not in seen
    assert used["status"] == 200 and renewed
    assert later.status_code == 302


def renewed_within(page, old: str, *, seconds: float) -> bool:
    """Whether the browser replaces the bound cookie `old` within `seconds` (a refresh it signs)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cookies_of(page).get(BOUND_COOKIE, old) != old:
            return True
        page.wait_for_timeout(100)
    return False


def replay_tls(server, cookie_header: str) -> requests.Response:
    return requests.get(
        f"{server.url}/accounts/profile/",
        headers={"Cookie": cookie_header},
        verify=str(server.certificate.cert),
        allow_redirects=False,
        timeout=10,
    )
