"""The site's Content-Security-Policy: django-csp's middleware, configured by its settings.

(django-csp's own middleware tests run under their own settings, csp.tests.settings, so the
contract the site relies on is checked here, through the site's own MIDDLEWARE.)"""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY

# The policy and the other security headers as they were before the site used django-csp's
# middleware unchanged. django-csp writes the directives in a set's order (it varies with
# PYTHONHASHSEED), so the header is compared directive by directive.
SITE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def directives(header: str) -> dict[str, str]:
    parts = [part.strip().split(" ", 1) for part in header.split(";")]
    assert len(parts) == len({name for name, _ in parts}), header
    return {name: value for name, value in parts}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/spa/", "/healthz", "/api/docs/", "/nowhere/"])
def test_csp_header_and_security_headers_are_the_sites_on_every_response(client, db, settings, path):
    settings.DEBUG = False  # with debug on, django-csp leaves Django's 404 and 500 debug pages alone
    response = client.get(path)
    assert directives(response[HEADER]) == SITE_POLICY
    assert HEADER_REPORT_ONLY not in response
    assert {name: response.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_csp_header_follows_a_changed_setting(client, settings):
    client.get("/healthz")
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/healthz")[HEADER] == "default-src 'none'"


def test_csp_report_only_setting_adds_its_header(client, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/r"}}
    response = client.get("/healthz")
    assert directives(response[HEADER_REPORT_ONLY]) == {"default-src": "'self'", "report-uri": "/r"}
    assert directives(response[HEADER]) == SITE_POLICY
