"""The cookie attributes a cross-site client needs, one mode per way of trying it.

`lax`: what the site uses (SameSite=Lax): a cross-site fetch neither stores nor sends it.
`none`: SameSite=None; Secure: sent cross-site, so sent on every other site's requests too
(CSRF), and refused when the browser blocks third-party cookies.
`partitioned`: SameSite=None; Secure; Partitioned (CHIPS): kept in a jar keyed on the top-level
site, so sent only when the API is called from a page of the site that got it; allowed when
third-party cookies are blocked. https://developer.mozilla.org/en-US/docs/Web/Privacy/Guides/Privacy_sandbox/Partitioned_cookies
"""

from __future__ import annotations

from http.cookies import Morsel

from django.http import HttpResponse

MODES = ("lax", "none", "partitioned")
SESSION_COOKIE_MODE = "crosssite.cookie"  # the session key holding the mode its cross-site login chose


class PartitionedMorsel(Morsel):
    """A Morsel that can carry CHIPS' Partitioned flag (Python learns it in 3.14)."""

    _reserved = {**Morsel._reserved, "partitioned": "Partitioned"}
    _flags = Morsel._flags | {"partitioned"}


def set_cross_site_cookie(response: HttpResponse, name: str, value: str, *, mode: str, max_age: int, path: str = "/"):
    """Set an HttpOnly cookie with `mode`'s SameSite, Secure and Partitioned attributes."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="Lax")
    return restyle_cookie(response, name, mode=mode)


def restyle_cookie(response: HttpResponse, name: str, *, mode: str):
    """Give the cookie `name` that `response` sets `mode`'s SameSite, Secure and Partitioned attributes."""
    if mode == "lax":
        return response
    morsel = response.cookies[name]
    # Chromium counts http://127.0.0.1 and http://localhost as secure contexts and keeps a Secure
    # cookie they set (measured: tests/e2e/test_cross_site.py); other hosts need HTTPS.
    morsel["samesite"], morsel["secure"] = "None", True
    if mode == "partitioned":
        partitioned = PartitionedMorsel()
        partitioned.set(morsel.key, morsel.value, morsel.coded_value)
        partitioned.update(dict(morsel))
        partitioned["partitioned"] = True
        response.cookies[name] = partitioned
    return response
