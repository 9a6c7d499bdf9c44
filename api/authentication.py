"""DRF authentication: the access token from a Bearer header or an HttpOnly cookie.

`BearerJWTAuthentication` and `CookieJWTAuthentication` are stateless: the user is
built from the token's claims (a `TokenUser`), so no database query is made. With
JWT_REVOCATION=cutoff they make one cache read for the user's cut-off.
`DatabaseUserJWTAuthentication` is SimpleJWT's default behaviour, kept for comparison:
it loads the user row on every request.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication

from accounts.vocabulary import Via
from api.tokens import validate_access_token


class BearerJWTAuthentication(JWTStatelessUserAuthentication):
    """`Authorization: Bearer <access token>`; the user comes from the token alone."""

    scheme = Via.JWT_BEARER
    www_authenticate_realm = "authdemo"

    def get_validated_token(self, raw_token):
        return validate_access_token(raw_token)


class DatabaseUserJWTAuthentication(JWTAuthentication):
    """SimpleJWT's default: validate the token, then load the user from the database."""

    scheme = Via.JWT_BEARER
    www_authenticate_realm = "authdemo"

    def get_validated_token(self, raw_token):
        return validate_access_token(raw_token)


def enforce_csrf(request) -> None:
    """Apply Django's CSRF check, as DRF's SessionAuthentication does for session users.

    Cookies are sent by the browser on cross-site requests too, so a request that a
    cookie authenticates (or a cookie login that will set one) must prove its origin.
    """
    check = CSRFCheck(lambda req: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}", code="csrf_failed")


class CookieJWTAuthentication(BearerJWTAuthentication):
    """The access token from its HttpOnly cookie, with CSRF enforced on unsafe methods."""

    scheme = Via.JWT_COOKIE

    def authenticate(self, request):
        raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
        if not raw:
            return None
        token = self.get_validated_token(raw)
        enforce_csrf(request)
        return self.get_user(token), token


def scheme_of(authenticator) -> str:
    """Name the scheme that authenticated a request, for Server-Timing and /api/me/.

    The JWT classes above carry their `scheme`; the session is DRF's own
    SessionAuthentication (CSRF enforced), used as it is.
    """
    if authenticator is None:
        return Via.ANONYMOUS
    if isinstance(authenticator, SessionAuthentication):
        return Via.SESSION
    return authenticator.scheme
