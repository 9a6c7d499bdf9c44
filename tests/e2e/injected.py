"""What a script injected into a page (XSS) does, as page.evaluate() runs it: in the page's origin.

Helpers for tests/e2e/test_spa_dpop.py and tests/e2e/test_theft_lab.py, with the SPA's DPoP login.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.factories import PASSWORD

# Wrap fetch: every later call of the page's own script is recorded, with its headers, its
# request body and its JSON answer. Tokens held in a closure are out of a script's reach
# by name, not once the page sends them.
HOOK_FETCH = """() => {
  window.__stolen = [];
  const original = window.fetch;
  window.fetch = async (input, init = {}) => {
    const response = await original(input, init);
    const body = await response.clone().json().catch(() => ({}));
    window.__stolen.push({ url: String(input), headers: init.headers || {}, request: init.body || null, body });
    return response;
  };
}"""

STOLEN = "() => window.__stolen"

# The private key of the SPA's DPoP mode, straight out of IndexedDB as any script of the
# origin can read it: a CryptoKey object, whose key material export refuses to give.
READ_DPOP_KEY = """async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("authdemo-dpop");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  const pair = await new Promise((resolve, reject) => {
    const get = db.transaction("keys").objectStore("keys").get("p256");
    get.onsuccess = () => resolve(get.result);
    get.onerror = () => reject(get.error);
  });
  db.close();
  const key = pair.privateKey;
  const result = { type: key.type, extractable: key.extractable, usages: key.usages, exported: null, error: null };
  for (const format of ["jwk", "pkcs8"]) {
    try {
      await crypto.subtle.exportKey(format, key);
      result.exported = format;
    } catch (error) {
      result.error = error.name;
    }
  }
  return result;
}"""

# A proof signed in the page with its key (dpop.js's signer: crypto.subtle.sign with the
# CryptoKey from IndexedDB), for a request the script chooses.
SIGN_PROOF = """async ([method, url, nonce, token, iat]) =>
  window.authdemoDpop.proof(method, url, { nonce, accessToken: token, iat: iat === null ? undefined : iat })"""


def stolen_access(page) -> str:
    """The access token the page last sent as `Authorization: DPoP ...`."""
    sent = [call["headers"].get("Authorization", "") for call in page.evaluate(STOLEN)]
    return [value.split(" ", 1)[1] for value in sent if value.startswith("DPoP ")][-1]


def dpop_login(page, user) -> list[tuple[str, int]]:
    """Log `page` in through the SPA's DPoP button; return the (path, status) it saw."""
    calls = []
    page.on("response", lambda response: calls.append((urlsplit(response.url).path, response.status)))
    page.goto("/spa/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in with DPoP").click()
    expect(page.locator("#spa-state")).to_have_text(f"yes, as {user.username}")
    return calls
