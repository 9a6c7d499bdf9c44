"""The site's CorsMiddleware answers every request exactly as django-cors-headers' own does.

Each request goes through the site's whole MIDDLEWARE twice, once with django-cors-headers'
class in the subclass's place, and the two answers must carry the same status and the same
headers: requests with and without Origin, from the allowed origin and another, preflights
with and without Origin, on the API's paths (CORS_URLS_REGEX) and elsewhere, with and
without credentials allowed.
"""

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

SITE = "crosssite.middleware.CorsMiddleware"
STOCK = "corsheaders.middleware.CorsMiddleware"
ALLOWED = settings.CROSS_SITE_ORIGIN

REQUESTS = [
    ("get", "/api/dashboard/", {}),
    ("get", "/api/dashboard/", {"HTTP_ORIGIN": ALLOWED}),
    ("get", "/api/dashboard/", {"HTTP_ORIGIN": "https://evil.example"}),
    ("get", "/api/dashboard/", {"HTTP_ORIGIN": "null"}),
    ("get", "/healthz", {}),
    ("get", "/healthz", {"HTTP_ORIGIN": ALLOWED}),
    ("options", "/api/token/", {"HTTP_ORIGIN": ALLOWED, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),
    ("options", "/api/token/", {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),  # a preflight without Origin
    ("options", "/api/token/", {"HTTP_ORIGIN": "https://evil.example", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),
    ("options", "/api/token/", {}),
    ("options", "/accounts/login/", {"HTTP_ORIGIN": ALLOWED, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),
    ("post", "/api/token/", {"HTTP_ORIGIN": ALLOWED}),
    ("post", "/api/token/", {}),
    ("get", "/", {"HTTP_HOST": "localhost"}),  # the second site (crosssite.site_urls)
    ("get", "/", {"HTTP_HOST": "localhost", "HTTP_ORIGIN": ALLOWED}),
]


def answer(method: str, path: str, headers: dict):
    """Status and headers of the answer through Django's handler built from MIDDLEWARE now."""
    request = getattr(RequestFactory(), method)(path, **headers)
    result = WSGIHandler().get_response(request)
    volatile = {"Server-Timing", "Set-Cookie", "Expires"}  # timings, the clock; a CSRF cookie is new each time
    headers = {name: value for name, value in result.items() if name not in volatile}
    return result.status_code, headers, sorted(result.cookies)


@pytest.mark.parametrize("credentials", [False, True])
@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_the_sites_cors_middleware_answers_as_django_cors_headers(db, settings, credentials, method, path, headers):
    settings.CORS_ALLOW_CREDENTIALS = credentials
    site = answer(method, path, headers)
    settings.MIDDLEWARE = [STOCK if name == SITE else name for name in settings.MIDDLEWARE]
    stock = answer(method, path, headers)
    assert site == stock
    assert SITE not in settings.MIDDLEWARE


def test_the_site_uses_its_cors_middleware(settings):
    assert SITE in settings.MIDDLEWARE
    assert STOCK not in settings.MIDDLEWARE


def test_an_answer_on_an_api_path_varies_on_origin_whether_or_not_one_came(client):
    assert "origin" in client.get("/api/dashboard/")["Vary"].lower()
    assert "origin" in client.get("/api/dashboard/", HTTP_ORIGIN=ALLOWED)["Vary"].lower()
    assert "origin" not in client.get("/healthz").get("Vary", "").lower()
