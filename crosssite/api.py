"""The API's end of the cross-site cookie ways, on the API's own origin.

A page on the second site logs in here with `fetch(..., {credentials: "include"})`; the answer
sets the credential as a cookie with the attributes `?cookie=lax|none|partitioned` asks for
(crosssite.cookies). The API's own /api/cookie/ endpoints keep their SameSite=Strict cookies.
A login from another site cannot carry Django's CSRF cookie (SameSite=Lax), so it is checked
the way CsrfViewMiddleware checks a trusted origin first: the Origin header must be exactly the
one origin CORS allows (never a pattern, never `null`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as auth_login
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api import services
from api.serializers import CredentialsSerializer, ErrorSerializer
from api.throttling import AuthRateThrottle
from api.views import ERRORS, NO_STORE, TimedAPIView
from crosssite.cookies import MODES, SESSION_COOKIE_MODE, set_cross_site_cookie


def require_trusted_origin(request) -> None:
    """Refuse a request whose Origin is not exactly the one cross-site origin (CSRF, RFC 6454 7)."""
    if request.headers.get("Origin") not in settings.CORS_ALLOWED_ORIGINS:
        raise exceptions.PermissionDenied("Origin is not the trusted cross-site origin.", code="origin_not_trusted")


def cookie_mode(request) -> str:
    mode = request.query_params.get("cookie", "lax")
    if mode not in MODES:
        raise exceptions.ValidationError({"cookie": [f"Choose one of {', '.join(MODES)}."]}, code="invalid")
    return mode


LOGIN_SCHEMA = extend_schema(
    tags=["cross-site"],
    request=CredentialsSerializer,
    parameters=[OpenApiParameter("cookie", enum=MODES, default="lax", description="The cookie's attributes.")],
    responses={200: inline_serializer("CrossSiteLogin", {"username": serializers.CharField(),
                                                         "cookie": serializers.ChoiceField(MODES)}),
               **ERRORS,
               403: OpenApiResponse(ErrorSerializer, description="Origin is not the trusted cross-site origin.")},
)  # fmt: skip


class CrossSiteLogin(TimedAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        require_trusted_origin(request)

    def credentials(self, request):
        serializer = CredentialsSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        return serializer.user


@NO_STORE
@LOGIN_SCHEMA
class TokenCookieLoginApi(CrossSiteLogin):
    """Log in; the access token comes back as an HttpOnly cookie with the asked-for attributes."""

    def post(self, request):
        mode = cookie_mode(request)
        pair = services.issue_token_pair(user=self.credentials(request), request=request, transport="cookie")
        lifetime = int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())
        response = Response({"username": pair.username, "cookie": mode})
        return set_cross_site_cookie(response, settings.JWT_ACCESS_COOKIE, pair.access, mode=mode, max_age=lifetime)


@NO_STORE
@LOGIN_SCHEMA
class SessionCookieLoginApi(CrossSiteLogin):
    """Log in with a Django session; its cookie comes back with the asked-for attributes."""

    def post(self, request):
        mode = cookie_mode(request)
        user = self.credentials(request)
        auth_login(request._request, user)
        # SessionMiddleware sets the cookie; crosssite.middleware gives it these attributes, then and
        # each time it is set again for this session (the registry's last-seen touch, a key cycle).
        request.session[SESSION_COOKIE_MODE] = mode
        return Response({"username": user.get_username(), "cookie": mode})
