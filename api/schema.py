"""OpenAPI: the answers every view can give, and the two token transports."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse

from api.serializers import ErrorSerializer


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, listing 429 wherever the view throttles, so the schema cannot
    miss an answer the throttle gives (as it did for /api/cookie/logout/)."""

    def get_response_serializers(self):
        responses = super().get_response_serializers()
        if not self.view.get_throttles():
            return responses
        if not isinstance(responses, dict):
            responses = {200: responses}
        if any(str(code) == "429" for code in responses):
            return responses
        throttled = OpenApiResponse(ErrorSerializer, description="Throttled; see Retry-After.")
        return {**responses, 429: throttled}


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerJWTAuthentication"
    name = "jwtBearer"
    match_subclasses = False
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A DPoP-bound token (token_type DPoP) goes as `Authorization: DPoP <token>` instead, "
            "with a `DPoP` proof header (RFC 9449); as Bearer it is refused.",
        }


class DatabaseUserBearerScheme(BearerScheme):
    target_class = "api.authentication.DatabaseUserJWTAuthentication"
    name = "jwtBearerDatabaseUser"


class CookieScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.CookieJWTAuthentication"
    name = "jwtCookie"
    priority = 1

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.JWT_ACCESS_COOKIE,
            "description": "The access token in an HttpOnly cookie; unsafe methods also need X-CSRFToken.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "session"
    priority = 1

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
