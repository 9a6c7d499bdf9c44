"""Tell every page how the visitor is authenticated right now."""

from time import perf_counter

from django.conf import settings
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.timing import record_auth
from accounts.vocabulary import Via
from api.tokens import validate_access_token


def auth_scheme(request):
    """`auth_via` is a vocabulary.Via name; `auth_name` whom it names."""
    user = getattr(request, "user", None)  # absent when an error page is drawn before auth ran
    if user is None:
        return {"auth_via": Via.ANONYMOUS, "auth_name": ""}
    if user.is_authenticated:
        return {"auth_via": Via.SESSION, "auth_name": user.get_short_name()}
    raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
    if raw:
        started = perf_counter()
        try:
            name = validate_access_token(raw)["username"]
        except InvalidToken:
            pass
        else:  # the page is personalised from the token: say so (Server-Timing, no-store)
            record_auth(request, scheme=Via.JWT_COOKIE, seconds=perf_counter() - started)
            return {"auth_via": Via.JWT_COOKIE, "auth_name": name}
    return {"auth_via": Via.ANONYMOUS, "auth_name": ""}
