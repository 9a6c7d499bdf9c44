"""The site's Content-Security-Policy: django-csp's middleware (the site's subclass builds the
settings' policy once), configured by its settings.

django-csp's own middleware and decorator tests run against the subclass, under their own
settings (csp.tests.settings), in a pytest of their own; the contract the site relies on is
checked below, through the site's own MIDDLEWARE."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY
from django.http import HttpResponse
from django.test import override_settings

from authdemo.content_security import CSPMiddleware

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


ROOT = Path(__file__).resolve().parents[2]


def test_django_csps_own_tests_pass_against_the_sites_middleware(tmp_path):
    (tmp_path / "pytest.ini").write_text("")  # not the project's: django-csp's tests, its settings
    command = [sys.executable, "-m", "pytest", "-p", "tests.authdemo.csp_contract", "-p", "no:cacheprovider",
               "--ds=csp.tests.settings", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
               "--pyargs", "csp.tests.test_middleware", "csp.tests.test_decorators"]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "csp.middleware.CSPMiddleware is authdemo.content_security.CSPMiddleware" in result.stdout
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 30, result.stdout[-2000:]  # django-csp 4.0 has 36


def test_the_built_policy_follows_an_override_and_its_end(client):
    site = client.get("/healthz")[HEADER]
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert client.get("/healthz")[HEADER] == "default-src 'none'"
    assert client.get("/healthz")[HEADER] == site


class AddsReportUri(CSPMiddleware):
    """A subclass that extends django-csp's documented hook, get_policy_parts."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        parts.update = {"report-uri": "/csp-report/"}
        return parts


def test_a_subclass_extending_get_policy_parts_gets_django_csps_path(rf):
    request, response = rf.get("/"), HttpResponse()
    middleware = AddsReportUri(lambda request: response)
    middleware.process_request(request)
    header = middleware.process_response(request, response)[HEADER]
    assert directives(header)["report-uri"] == "/csp-report/"
    assert directives(header)["default-src"] == "'self'"
