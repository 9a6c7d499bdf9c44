"""Serve the second site (crosssite.site_urls) to requests for Host localhost.

The browser keys cookies and same-site rules on the site (scheme and registrable domain):
http://127.0.0.1:PORT and http://localhost:PORT are two sites, so one process can play the
API on one and a client application on another, cross-site for every cookie and fetch rule.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SECOND_SITE_URLCONF = "crosssite.site_urls"


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
        if request.get_host().rsplit(":", 1)[0] == settings.CROSS_SITE_HOST:
            request.urlconf = SECOND_SITE_URLCONF
        return self.get_response(request)
