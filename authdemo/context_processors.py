"""Tell every page how the visitor is authenticated right now."""

from accounts.vocabulary import Via


def auth_scheme(request):
    """`auth_via` is a vocabulary.Via name; `auth_name` whom it names.

    Authentication itself happened in middleware (Django's for the session,
    JWTCookieAuthenticationMiddleware for the cookie); this only reads the result.
    """
    user = getattr(request, "user", None)  # absent when an error page is drawn before auth ran
    if user is None:
        return {"auth_via": Via.ANONYMOUS, "auth_name": ""}
    if user.is_authenticated:
        return {"auth_via": Via.SESSION, "auth_name": user.get_short_name()}
    name = request.jwt_cookie_username() if hasattr(request, "jwt_cookie_username") else ""
    if name:
        return {"auth_via": Via.JWT_COOKIE, "auth_name": name}
    return {"auth_via": Via.ANONYMOUS, "auth_name": ""}
