"""Site-wide authentication of the JWT cookie, and response headers that depend on it."""

from __future__ import annotations

from functools import partial
from time import perf_counter

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.timing import get_auth_record, record_auth
from accounts.vocabulary import Via
from api.tokens import validate_access_token


class ServerTimingMiddleware:
    """Add `Server-Timing: auth;dur=<ms>;desc="<scheme>"` to every response.

    Browser developer tools and `curl -i` then show what authentication cost this
    request, and which scheme and transport did it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        record = get_auth_record(request)
        entry = f'auth;dur={record.seconds * 1000:.3f};desc="{record.scheme}"'
        existing = response.headers.get("Server-Timing")
        response.headers["Server-Timing"] = f"{existing}, {entry}" if existing else entry
        return response


def _jwt_cookie_username(request) -> str:
    if not hasattr(request, "_jwt_cookie_username"):  # once per request, as Django caches the user
        request._jwt_cookie_username = ""
        raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
        if raw:
            started = perf_counter()
            try:
                request._jwt_cookie_username = validate_access_token(raw)["username"]
            except InvalidToken:
                pass
            else:
                record_auth(request, scheme=Via.JWT_COOKIE, seconds=perf_counter() - started)
    return request._jwt_cookie_username


class JWTCookieAuthenticationMiddleware:
    """Authenticate the JWT access cookie for the site's pages: `request.jwt_cookie_username()`.

    Like Django's `request.user`, the token is checked only when asked for (once per
    request): the pages ask through the `auth_scheme` context processor, and
    PrivateCacheMiddleware asks for every response to a request that carries the cookie.
    The API's views authenticate it themselves (api.authentication).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.jwt_cookie_username = partial(_jwt_cookie_username, request)
        return self.get_response(request)


class PrivateCacheMiddleware:
    """Forbid any cache to keep a response that was made for an authenticated user.

    A request counts as authenticated when a session or the JWT access cookie
    authenticated it, whether or not a template looked at who it was.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not hasattr(request, "jwt_cookie_username"):
            raise ImproperlyConfigured(
                "authdemo.middleware.PrivateCacheMiddleware must come after "
                "authdemo.middleware.JWTCookieAuthenticationMiddleware in MIDDLEWARE."
            )
        response = self.get_response(request)
        if get_auth_record(request).authenticated or request.jwt_cookie_username():
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ("Cookie", "Authorization"))
        return response
