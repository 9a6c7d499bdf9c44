"""Site-wide response headers that depend on how the request was authenticated."""

from __future__ import annotations

from django.utils.cache import patch_cache_control, patch_vary_headers

from accounts.timing import get_auth_record


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


class PrivateCacheMiddleware:
    """Forbid any cache to keep a response that was made for an authenticated user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if get_auth_record(request).authenticated:
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ("Cookie", "Authorization"))
        return response
