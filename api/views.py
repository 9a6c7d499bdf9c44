"""The JWT API: one view per operation; the work is in api.services."""

from __future__ import annotations

from contextlib import suppress
from time import perf_counter

from django.conf import settings
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError
from rest_framework_simplejwt.views import TokenViewBase

from accounts.selectors import get_user_summary
from accounts.timing import record_auth
from api import dpop, services
from api.authentication import (
    BearerJWTAuthentication,
    CookieJWTAuthentication,
    DatabaseUserJWTAuthentication,
    enforce_csrf,
    scheme_of,
)
from api.negotiation import JSONOnlyNegotiation
from api.serializers import (
    CookieLoginSerializer,
    CredentialsSerializer,
    DashboardSerializer,
    ErrorSerializer,
    MeSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    VerifySerializer,
)
from api.signing import token_backend
from api.throttling import AuthRateThrottle
from api.tokens import invalid, validate_access_token

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` names each problem."),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked credentials."),
    429: OpenApiResponse(ErrorSerializer, description="Locked out or throttled; see Retry-After."),
}
REFRESH_COOKIE_PATH = "/api/cookie/"  # the refresh token travels only to the cookie endpoints
CSRF = {403: OpenApiResponse(ErrorSerializer, description="CSRF check failed (code `csrf_failed`).")}
DPOP_PROOF = OpenApiParameter(
    "DPoP", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="A DPoP proof (RFC 9449) to bind the tokens to its key; a bad one is a 400 "
    "(`invalid_dpop_proof`, `use_dpop_nonce` with a `DPoP-Nonce` header).",
)  # fmt: skip


class MethodCheckedFirst:
    """Answer 405 to a method the view does not serve, before authentication, throttling and
    CSRF: DRF checks the method last, so an unserved method got their 401, 429 or 403
    instead, answers the schema does not list for it (Django's View.dispatch checks first)."""

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class DpopNonce:
    """Give every answer to a request with a DPoP proof the current server nonce (RFC 9449 8)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        dpop.add_nonce(request, response)
        return response


class TimedAPIView(DpopNonce, MethodCheckedFirst, APIView):
    """A JSON APIView that reports its authentication step to Server-Timing."""

    content_negotiation_class = JSONOnlyNegotiation

    def perform_authentication(self, request):
        started = perf_counter()
        try:
            request.user  # noqa: B018  (runs the authenticators)
        finally:
            scheme = scheme_of(request.successful_authenticator)
            record_auth(request._request, scheme=scheme, seconds=perf_counter() - started)


NO_STORE = method_decorator(never_cache, name="dispatch")  # RFC 6749 5.1: token answers are never cached


@NO_STORE
class TokenApi(DpopNonce, MethodCheckedFirst, TokenViewBase):
    """Base of the token endpoints: no authentication, a Bearer challenge on 401, no-store.

    `post` checks a DPoP proof where `binds_dpop` says so (before the body, so a refused proof
    costs no password check), validates the body with `serializer_class` and answers what
    `perform` returns; `jkt` is the proof key's thumbprint, None for a bearer client.
    """

    www_authenticate_realm = "authdemo"
    throttle_classes = [AuthRateThrottle]
    binds_dpop = False

    def post(self, request, *args, **kwargs):
        jkt = dpop.key_of_token_request(request._request) if self.binds_dpop else None
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self.perform(serializer, request, jkt))

    def perform(self, serializer, request, jkt: str | None) -> dict:
        raise NotImplementedError


@extend_schema(
    tags=["tokens"],
    request=CredentialsSerializer,
    responses={200: TokenPairSerializer, **ERRORS},
    parameters=[DPOP_PROOF],
)
class TokenObtainPairApi(TokenApi):
    """Log in with username and password; start an API login (a refresh-token family)."""

    serializer_class = CredentialsSerializer
    binds_dpop = True

    def perform(self, serializer, request, jkt) -> dict:
        return services.issue_token_pair(user=serializer.user, request=request, transport="bearer", jkt=jkt).as_json()


@extend_schema(
    tags=["tokens"], request=RefreshSerializer, responses={200: TokenPairSerializer, **ERRORS}, parameters=[DPOP_PROOF]
)
class TokenRefreshApi(TokenApi):
    """Rotate: a new pair for a live refresh token, which is blacklisted.

    Presenting a refresh token that was already rotated revokes its whole family
    (code `token_reused`, RFC 9700 section 4.14.2).
    """

    serializer_class = RefreshSerializer
    binds_dpop = True

    def perform(self, serializer, request, jkt) -> dict:
        raw = serializer.validated_data["refresh"]
        return services.rotate_refresh_token(raw=raw, request=request, jkt=jkt).as_json()


@extend_schema(tags=["tokens"], request=VerifySerializer, responses={200: None, **ERRORS})
class TokenVerifyApi(TokenApi):
    """Answer 200 if the token (access or refresh) is live now, else 401; revoke nothing.

    A refresh token that was rotated already is refused, not treated as a replay: a check
    is a read, and reuse detection belongs to the requests that could use the token.
    """

    serializer_class = VerifySerializer

    def perform(self, serializer, request, jkt) -> dict:
        raw = serializer.validated_data["token"]
        if _token_type(raw) == "refresh":
            services.verify_refresh_token(raw=raw)
        else:
            validate_access_token(raw)
        return {}


@extend_schema(tags=["tokens"], request=RefreshSerializer, responses={200: None, **ERRORS})
class TokenBlacklistApi(TokenApi):
    """Log out an API login: blacklist the refresh token and revoke its family."""

    serializer_class = RefreshSerializer

    def perform(self, serializer, request, jkt) -> dict:
        services.end_family(raw=serializer.validated_data["refresh"], request=request)
        return {}


def _token_type(raw: str) -> str | None:
    try:
        return token_backend.decode(raw, verify=False).get("token_type")
    except TokenBackendError as exc:
        raise invalid("Token is invalid.", "token_not_valid") from exc


@extend_schema(tags=["resources"], responses={200: DashboardSerializer, 401: ERRORS[401]})
class DashboardApi(TimedAPIView):
    """The token's claims, authenticated from the token alone: no database query."""

    authentication_classes = [BearerJWTAuthentication, CookieJWTAuthentication]

    def get(self, request):
        return Response({"message": f"Access granted to {request.user.username}", "data": request.auth.payload})


@extend_schema(tags=["resources"], responses={200: DashboardSerializer, 401: ERRORS[401]})
class DashboardDatabaseUserApi(DashboardApi):
    """The same answer, authenticated the SimpleJWT-default way: one user query per request."""

    authentication_classes = [DatabaseUserJWTAuthentication]


@extend_schema(tags=["resources"], responses={200: MeSerializer, 401: ERRORS[401]})
class MeApi(TimedAPIView):
    """Who you are, and which scheme and transport authenticated this request."""

    def get(self, request):
        summary = get_user_summary(user_id=request.user.id)
        if summary is None:  # the token outlived its user
            raise invalid("User not found.", "user_not_found")
        return Response({**summary, "authenticated_by": scheme_of(request.successful_authenticator)})


@NO_STORE
class CookieTransportApi(TimedAPIView):
    """Tokens in HttpOnly cookies for browsers; CSRF is enforced on every call, login included."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        enforce_csrf(request)

    def get_authenticate_header(self, request):
        return 'Bearer realm="authdemo"'


def _set_token_cookies(response: Response, pair: services.TokenPair) -> Response:
    """Both tokens in HttpOnly, SameSite=Strict cookies; the refresh token only for /api/cookie/."""
    for name, value, expires, path in (
        (settings.JWT_ACCESS_COOKIE, pair.access, pair.access_expires_at, "/"),
        (settings.JWT_REFRESH_COOKIE, pair.refresh, pair.refresh_expires_at, REFRESH_COOKIE_PATH),
    ):
        response.set_cookie(
            name, value, expires=expires, httponly=True, secure=settings.SECURE_COOKIES, samesite="Strict", path=path
        )
    return response


def _cookie_body(pair: services.TokenPair) -> dict:
    return {"username": pair.username, "access_expires_at": pair.access_expires_at}


@extend_schema(
    tags=["cookie transport"], request=CredentialsSerializer, responses={200: CookieLoginSerializer, **ERRORS, **CSRF}
)
class CookieLoginApi(CookieTransportApi):
    """Log in; the tokens go into HttpOnly cookies and never into the body."""

    def post(self, request):
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        pair = services.issue_token_pair(user=serializer.user, request=request, transport="cookie")
        return _set_token_cookies(Response(_cookie_body(pair)), pair)


@extend_schema(tags=["cookie transport"], request=None, responses={200: CookieLoginSerializer, **ERRORS, **CSRF})
class CookieRefreshApi(CookieTransportApi):
    """Rotate the refresh cookie and set a new access cookie."""

    def post(self, request):
        raw = request.COOKIES.get(settings.JWT_REFRESH_COOKIE, "")
        pair = services.rotate_refresh_token(raw=raw, request=request)
        return _set_token_cookies(Response(_cookie_body(pair)), pair)


@extend_schema(tags=["cookie transport"], request=None, responses={200: None, **CSRF})
class CookieLogoutApi(CookieTransportApi):
    """Revoke the login behind the refresh cookie and expire both cookies.

    Not throttled: logging out proves and guesses nothing (a forged cookie fails its
    signature), and a client over the limit must still be able to end its login.
    """

    throttle_classes = []

    def post(self, request):
        raw = request.COOKIES.get(settings.JWT_REFRESH_COOKIE, "")
        with suppress(InvalidToken):  # already ended, expired or forged: the cookies go either way
            services.end_family(raw=raw, request=request)
        response = Response({})
        response.delete_cookie(settings.JWT_ACCESS_COOKIE, path="/", samesite="Strict")
        response.delete_cookie(settings.JWT_REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, samesite="Strict")
        return response
