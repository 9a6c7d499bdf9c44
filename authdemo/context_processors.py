"""Tell every page how the visitor is authenticated right now."""

from django.conf import settings
from rest_framework_simplejwt.exceptions import InvalidToken

from api.tokens import validate_access_token


def auth_scheme(request):
    """`auth_via` is "session", "jwt-cookie" or "anonymous"; `auth_name` whom it names."""
    user = getattr(request, "user", None)  # absent when an error page is drawn before auth ran
    if user is None:
        return {"auth_via": "anonymous", "auth_name": ""}
    if user.is_authenticated:
        return {"auth_via": "session", "auth_name": user.get_short_name()}
    raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
    if raw:
        try:
            return {"auth_via": "jwt-cookie", "auth_name": validate_access_token(raw)["username"]}
        except InvalidToken:
            pass
    return {"auth_via": "anonymous", "auth_name": ""}
