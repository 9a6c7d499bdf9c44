"""The single-page client's DPoP mode in Debian's Chromium: a key the page cannot export,
a proof on every call, tokens in memory that are useless without the key."""

import pytest
import requests
from playwright.sync_api import expect

from accounts.models import TokenFamily
from scripts.dpop_demo import DpopKey
from tests.e2e.injected import HOOK_FETCH, READ_DPOP_KEY, STOLEN, dpop_login, stolen_access

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture
def dpop_spa(page, bob):
    dpop_login(page, bob)
    return page


def dashboard(page) -> None:
    page.get_by_role("button", name="Call the dashboard").click()


def thief_with_dpop(base: str, token: str, key: DpopKey) -> requests.Response:
    """Call the dashboard elsewhere with `token` and proofs by `key`, fetching a nonce first."""
    url = f"{base}/api/dashboard/"
    first = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token=token)})
    nonce = first.headers.get("DPoP-Nonce")
    proof = key.proof("GET", url, token=token, nonce=nonce)
    return requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": proof}, timeout=10)


def test_dpop_login_signs_again_with_the_servers_nonce(page, bob):
    calls = dpop_login(page, bob)

    assert [call for call in calls if call[0] == "/api/token/"] == [("/api/token/", 400), ("/api/token/", 200)]
    expect(page.locator("#spa-mode")).to_have_text("DPoP, tokens in memory")
    assert TokenFamily.objects.get(user=bob).transport == "bearer"
    assert not {"access", "refresh"} & {c["name"] for c in page.context.cookies()}


def test_dpop_dashboard_is_called_with_a_dpop_token_and_proof(dpop_spa):
    with dpop_spa.expect_request("**/api/dashboard/") as sent:
        dashboard(dpop_spa)

    expect(dpop_spa.locator("#spa-status")).to_have_text("200: access granted.")
    expect(dpop_spa.locator("#spa-output")).to_contain_text("Access granted to bob")
    headers = sent.value.headers
    assert headers["authorization"].startswith("DPoP ey")
    assert headers["dpop"].count(".") == 2
    assert "cookie" not in headers or "access=" not in headers["cookie"]


def test_dpop_refresh_gives_a_new_bound_pair_and_the_dashboard_still_answers(dpop_spa):
    dpop_spa.evaluate(HOOK_FETCH)
    dashboard(dpop_spa)
    expect(dpop_spa.locator("#spa-status")).to_have_text("200: access granted.")
    before = stolen_access(dpop_spa)

    dpop_spa.get_by_role("button", name="Refresh the tokens").click()

    expect(dpop_spa.locator("#spa-status")).to_contain_text("Refreshed")
    expect(dpop_spa.locator("#spa-refreshes")).to_have_text("1")
    refresh = [call for call in dpop_spa.evaluate(STOLEN) if call["url"].endswith("/api/token/refresh/")][-1]
    assert refresh["headers"]["DPoP"] and refresh["body"]["token_type"] == "DPoP"
    dashboard(dpop_spa)
    expect(dpop_spa.locator("#spa-status")).to_have_text("200: access granted.")
    assert stolen_access(dpop_spa) != before


def test_dpop_private_key_cannot_be_exported(dpop_spa):
    key = dpop_spa.evaluate(READ_DPOP_KEY)

    assert key["type"] == "private"
    assert key["extractable"] is False
    assert key["usages"] == ["sign"]
    assert key["exported"] is None and key["error"] == "InvalidAccessError"


def test_dpop_token_read_from_the_page_is_refused_elsewhere(dpop_spa, app_server):
    dpop_spa.evaluate(HOOK_FETCH)
    dashboard(dpop_spa)
    expect(dpop_spa.locator("#spa-status")).to_have_text("200: access granted.")
    token = stolen_access(dpop_spa)
    url = f"{app_server.url}/api/dashboard/"

    as_bearer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    without_proof = requests.get(url, headers={"Authorization": f"DPoP {token}"}, timeout=10)
    other_key = thief_with_dpop(app_server.url, token, DpopKey.generate())

    assert (as_bearer.status_code, as_bearer.json()["code"]) == (401, "token_not_valid")
    assert without_proof.status_code == 401
    assert (other_key.status_code, other_key.json()["code"]) == (401, "token_not_valid")
    dashboard(dpop_spa)  # the page itself, with the key, still gets in
    expect(dpop_spa.locator("#spa-status")).to_have_text("200: access granted.")


def test_dpop_login_is_lost_on_reload_and_the_key_stays(dpop_spa):
    before = dpop_spa.evaluate(READ_DPOP_KEY)
    dpop_spa.reload()

    expect(dpop_spa.locator("#spa-state")).to_have_text("no")
    dashboard(dpop_spa)
    expect(dpop_spa.locator("#spa-status")).to_have_text("401: refused.")
    assert dpop_spa.evaluate(READ_DPOP_KEY)["type"] == before["type"]
