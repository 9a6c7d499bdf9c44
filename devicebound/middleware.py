"""Refuse a device-bound session that arrives without its bound cookie."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import SimpleLazyObject

from accounts.middleware import session_user
from devicebound import services


class DeviceBoundSessionMiddleware:
    """A bound session without a valid bound cookie counts as anonymous; offer binding on login.

    Lazy, like AuthenticationMiddleware: the check runs when something asks for
    `request.user`, so a request that never does pays nothing, and a request without a
    session cookie has no session to be bound (a login in this request sets `request.user`
    itself). A session whose browser never registered a key is untouched. The DBSC endpoints
    read the session, not `request.user`, so a browser can still refresh the cookie it lacks.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        middleware = list(settings.MIDDLEWARE)
        this, auth = f"{__name__}.{type(self).__name__}", "accounts.middleware.TimedAuthenticationMiddleware"
        if auth not in middleware or middleware.index(auth) != middleware.index(this) - 1:
            raise ImproperlyConfigured(
                f"{this} must come after {auth} in MIDDLEWARE, right after it: it guards the user that one loads."
            )

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.session_key is not None:  # no session, nothing bound to a device
            self.guard(request)
        response = self.get_response(request)
        if getattr(request, services.LOGIN_MARK, False):
            services.offer_binding(request=request, response=response)
        return response

    @staticmethod
    def guard(request) -> None:
        """Make `request.user` anonymous, when first asked for, if the session is bound and
        the bound cookie is missing or invalid."""
        session_auser = request.auser
        # The user itself, not TimedAuthenticationMiddleware's lazy object inside this one: a
        # lazy object in a lazy object costs two proxies on every attribute a page reads.
        request.user = SimpleLazyObject(
            lambda: AnonymousUser() if services.refuses(request=request) else session_user(request)
        )

        async def auser():
            from asgiref.sync import sync_to_async

            refused = await sync_to_async(services.refuses)(request=request)
            return AnonymousUser() if refused else await session_auser()

        request.auser = auser
