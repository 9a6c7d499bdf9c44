"""Serve the second site (crosssite.site_urls) to requests for Host localhost.

The browser keys cookies and same-site rules on the site (scheme and registrable domain):
http://127.0.0.1:PORT and http://localhost:PORT are two sites, so one process can play the
API on one and a client application on another, cross-site for every cookie and fetch rule.
"""

from corsheaders import middleware as cors
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.cache import patch_vary_headers

from crosssite.cookies import MODES, SESSION_COOKIE_MODE, restyle_cookie

SECOND_SITE_URLCONF = "crosssite.site_urls"


class CorsMiddleware(cors.CorsMiddleware):
    """django-cors-headers' middleware, with its work skipped for a request no browser sent cross-origin.

    A browser sends `Origin` with every cross-origin request and every preflight; without
    `Origin` (or a preflight's `Access-Control-Request-Method`) django-cors-headers only adds
    `Vary: origin` to an answer on a CORS path, after building the request's header map,
    about 20 µs of every API call. That is all this does for such a request; the rest goes
    through django-cors-headers unchanged (the same answers: tests/crosssite/test_cors.py).
    """

    def __call__(self, request):
        meta = request.META
        if self.async_mode or "HTTP_ORIGIN" in meta or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in meta:
            return super().__call__(request)
        response = self.get_response(request)
        if self.is_enabled(request):
            patch_vary_headers(response, ("origin",))
        return response


class SecondSiteMiddleware:
    """Route requests whose Host is the second site's to its own URLconf."""

    def __init__(self, get_response):
        self.get_response = get_response
        middleware = list(settings.MIDDLEWARE)
        this = f"{__name__}.{type(self).__name__}"
        if "django.middleware.common.CommonMiddleware" in middleware[: middleware.index(this)]:
            raise ImproperlyConfigured(
                f"Put {this} before django.middleware.common.CommonMiddleware in MIDDLEWARE: "
                "APPEND_SLASH resolves paths in the URLconf this middleware chooses."
            )

    def __call__(self, request):
        # get_host() on every request: it also refuses a Host that ALLOWED_HOSTS does not admit
        # (400) here, before WhiteNoise below would serve a static file to any Host.
        if request.get_host().rsplit(":", 1)[0] == settings.CROSS_SITE_HOST:
            request.urlconf = SECOND_SITE_URLCONF
        return self.get_response(request)


class CrossSiteSessionCookieMiddleware:
    """Give the session cookie the attributes its cross-site login chose, whenever it is set.

    SessionMiddleware sets the cookie with the site's SESSION_COOKIE_SAMESITE each time the
    session changes (the registry's last-seen touch, once a minute); a cross-site session's
    cookie must keep SameSite=None (and Partitioned) every time.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        middleware = list(settings.MIDDLEWARE)
        this = f"{__name__}.{type(self).__name__}"
        sessions = "django.contrib.sessions.middleware.SessionMiddleware"
        if sessions not in middleware or middleware.index(this) > middleware.index(sessions):
            raise ImproperlyConfigured(
                f"Put {this} before {sessions} in MIDDLEWARE: it restyles the cookie that one sets."
            )

    def __call__(self, request):
        response = self.get_response(request)
        morsel = response.cookies.get(settings.SESSION_COOKIE_NAME)
        session = getattr(request, "session", None)
        if morsel is not None and morsel.value and session is not None:
            mode = session.get(SESSION_COOKIE_MODE)
            if mode in MODES:
                restyle_cookie(response, settings.SESSION_COOKIE_NAME, mode=mode)
        return response
