"""The site's CSP middleware builds the site-wide policy once; it stays django-csp's policy.

(django-csp's own middleware tests run under their own settings, csp.tests.settings, with
a Jinja2 environment of theirs, so the contract is checked here.)"""

import pytest
from csp.constants import HEADER, NONCE, SELF
from csp.decorators import csp_update
from csp.exceptions import CSPNonceError
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from authdemo.middleware import ContentSecurityPolicyMiddleware


def through_middleware(view):
    request = RequestFactory().get("/somewhere/")
    return request, ContentSecurityPolicyMiddleware(view)(request)


def test_csp_header_is_django_csps_policy(client, settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "img-src": ["'self'", "data:"]}}
    assert client.get("/healthz")[HEADER] == build_policy()


def test_csp_header_follows_a_changed_setting(client, settings):
    client.get("/healthz")
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert client.get("/healthz")[HEADER] == "default-src 'none'"


def test_csp_nonce_used_by_a_view_is_in_its_header(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": [SELF, NONCE]}}
    request, response = through_middleware(lambda request: HttpResponse(str(request.csp_nonce)))
    assert f"'nonce-{response.content.decode()}'" in response[HEADER]


def test_csp_view_policy_from_a_decorator_is_kept():
    _, response = through_middleware(csp_update({"img-src": ["https://img.example"]})(lambda request: HttpResponse()))
    assert "https://img.example" in response[HEADER]


def test_csp_nonce_asked_for_after_the_header_is_an_error():
    request, _ = through_middleware(lambda request: HttpResponse())
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
