"""DRF throttling for the login and refresh endpoints: a second layer behind django-axes."""

import logging

from django.core.cache import caches
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.http import CACHE_ERRORS
from accounts.limits import address_key

logger = logging.getLogger(__name__)


class AuthRateThrottle(SimpleRateThrottle):
    """Limit credential and refresh attempts per client address (AUTH_THROTTLE_RATE).

    It uses its own cache alias, and counts the same client as the per-address limits
    (`address_key`: one trusted hop, as lockout sees it, and an IPv6 client's /64, since one
    subscriber holds a whole /64, RFC 6177; DRF's default trusts X-Forwarded-For and counts
    each address). If the cache is down it lets the request through: django-axes, on the
    database, still holds.
    """

    scope = "auth"

    def __init__(self):
        self.cache = caches["throttle"]
        super().__init__()

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]  # now, not at import

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": address_key(self.scope, request)}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            logger.warning("Throttle cache unavailable; lockout still applies", exc_info=True)
            return True
