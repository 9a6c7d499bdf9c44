"""OpenAPI descriptions of the two token transports."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerJWTAuthentication"
    name = "jwtBearer"
    match_subclasses = False
    priority = 1

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


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
