"""Tell every page how the visitor is authenticated right now."""

from time import perf_counter

from django.conf import settings
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.timing import record_auth
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
        started = perf_counter()
        try:
            name = validate_access_token(raw)["username"]
        except InvalidToken:
            pass
        else:  # the page is personalised from the token: say so (Server-Timing, no-store)
            record_auth(request, scheme="jwt-cookie", seconds=perf_counter() - started)
            return {"auth_via": "jwt-cookie", "auth_name": name}
    return {"auth_via": "anonymous", "auth_name": ""}
