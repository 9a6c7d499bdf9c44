"""Session authentication that is timed, the registry's last-seen touch, per-address limits."""

from __future__ import annotations

from functools import partial
from time import perf_counter

from asgiref.sync import sync_to_async
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import SimpleLazyObject

from accounts.authentication import get_session_user
from accounts.limits import seconds_to_wait
from accounts.lockout import too_many_attempts
from accounts.services import touch_session
from accounts.timing import get_auth_record, record_auth
from accounts.vocabulary import Via


def session_user(request):
    """The session's user, timed for Server-Timing, loaded once per request (what `request.user`
    evaluates to; devicebound's guard asks for it directly rather than wrap a lazy object)."""
    if not hasattr(request, "_cached_user"):  # the same caching Django's middleware does
        started = perf_counter()
        request._cached_user = get_session_user(request)
        scheme = Via.SESSION if request._cached_user.is_authenticated else Via.ANONYMOUS
        record_auth(request, scheme=scheme, seconds=perf_counter() - started)
    return request._cached_user


async def _session_auser(request):
    return await sync_to_async(session_user)(request)


class TimedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, recording the session lookup for Server-Timing.

    The user is still loaded lazily: a request that never looks at `request.user`
    (an API call with a Bearer token, /healthz) pays nothing for sessions.
    """

    def process_request(self, request):
        if not hasattr(request, "session"):
            raise ImproperlyConfigured(
                "accounts.middleware.TimedAuthenticationMiddleware needs "
                "django.contrib.sessions.middleware.SessionMiddleware before it in MIDDLEWARE."
            )
        request.user = SimpleLazyObject(lambda: session_user(request))
        request.auser = partial(_session_auser, request)  # async views get the same user


class SessionRegistryMiddleware:
    """Keep the session registry's last-seen time current, writing at most once a minute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not hasattr(request, "user"):
            raise ImproperlyConfigured(
                "SessionRegistryMiddleware must come after "
                "accounts.middleware.TimedAuthenticationMiddleware in MIDDLEWARE."
            )
        response = self.get_response(request)
        # Only when a session authenticated this request: never add a session read.
        if get_auth_record(request).scheme == Via.SESSION:
            touch_session(request=request)
        return response


class AuthRateLimitMiddleware:
    """Answer a credential attempt over its per-address limit with 429, before the view runs.

    One policy for every path that takes a password or sends a mail (accounts.limits), so
    a refused attempt costs no password hash.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST":
            return None
        wait = seconds_to_wait(request=request, view_name=request.resolver_match.view_name)
        return None if wait is None else too_many_attempts(request, retry_after=wait)
