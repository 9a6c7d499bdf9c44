"""DRF authentication: the access token from a Bearer or DPoP header or an HttpOnly cookie.

`BearerJWTAuthentication` and `CookieJWTAuthentication` are stateless: the user is
built from the token's claims (a `TokenUser`), so no database query is made. With
JWT_REVOCATION=cutoff they make one cache read for the user's cut-off.
`DatabaseUserJWTAuthentication` is SimpleJWT's default behaviour, kept for comparison:
it loads the user row on every request.
A DPoP-bound token (claim `cnf.jkt`, api.dpop) is accepted only as `Authorization: DPoP`
with a proof signed by its key; an unbound one only without (RFC 9449 7.1, 7.2).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import constant_time_compare
from rest_framework import exceptions
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.vocabulary import Via
from api import dpop
from api.tokens import bound_key, validate_access_token
from verifier.dpop import ProofError

DPOP = b"DPoP"


def refuse(request, description: str, code: str, error: str = "invalid_token"):
    """Raise a 401 whose challenge is DPoP's, naming RFC 9449's `error` (see authenticate_header)."""
    getattr(request, "_request", request).dpop_challenge = dpop.challenge(error, description)
    raise exceptions.AuthenticationFailed(description, code)


class DpopBinding:
    """Refuse a DPoP-bound token presented without DPoP; answer DPoP's challenge when DPoP failed."""

    def authenticate_header(self, request) -> str:
        return getattr(request._request, "dpop_challenge", None) or super().authenticate_header(request)

    def refuse_bound(self, request, token) -> None:
        if bound_key(token) is not None:  # RFC 9449 7.2: a stolen bound token is no bearer token
            refuse(request, "This token is bound to a DPoP key; send it as Authorization: DPoP with a proof.",
                   "token_not_valid")  # fmt: skip


class BearerJWTAuthentication(DpopBinding, JWTStatelessUserAuthentication):
    """`Authorization: Bearer <access token>`, or `DPoP <access token>` with a `DPoP` proof;
    the user comes from the token alone."""

    scheme = Via.JWT_BEARER
    www_authenticate_realm = "authdemo"

    def authenticate(self, request):
        parts = (self.get_header(request) or b"").split()
        if parts[:1] == [DPOP]:
            return self.authenticate_dpop(request, parts)
        result = super().authenticate(request)
        if result is not None:
            self.refuse_bound(request, result[1])
        return result

    def authenticate_dpop(self, request, parts: list[bytes]):
        """RFC 9449 7.1: a bound token, and a proof by its key naming this request and token."""
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header must contain two space-delimited values", "bad_authorization_header"
            )
        try:
            token = self.get_validated_token(parts[1])
        except InvalidToken as exc:
            refuse(request, str(exc.detail.get("detail", "Token is invalid.")), exc.detail.get("code"))
        if bound_key(token) is None:
            refuse(request, "This token is not bound to a DPoP key; send it as Authorization: Bearer.",
                   "token_not_valid")  # fmt: skip
        try:
            jkt = dpop.verify_request(request._request, access_token=parts[1].decode("latin-1"))
        except ProofError as exc:
            refuse(request, exc.description, exc.code, exc.code)
        if not constant_time_compare(jkt, bound_key(token)):
            refuse(request, "The DPoP proof is not signed by the key this token is bound to.", "token_not_valid")
        return self.get_user(token), token

    def get_validated_token(self, raw_token):
        return validate_access_token(raw_token)


class DatabaseUserJWTAuthentication(DpopBinding, JWTAuthentication):
    """SimpleJWT's default: validate the token, then load the user from the database.
    Bearer only: a DPoP-bound token is refused here."""

    scheme = Via.JWT_BEARER
    www_authenticate_realm = "authdemo"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            self.refuse_bound(request, result[1])
        return result

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
        self.refuse_bound(request, token)
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
