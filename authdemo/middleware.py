"""Site-wide authentication of the JWT cookie, response headers that depend on it, and Django's
messages made lazily."""

from __future__ import annotations

from functools import partial
from io import BytesIO
from time import perf_counter

from django.conf import settings
from django.contrib.messages import middleware as messages_middleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import LimitedStream
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.functional import SimpleLazyObject, empty
from rest_framework_simplejwt.exceptions import InvalidToken

from accounts.timing import get_auth_record, record_auth
from accounts.vocabulary import Via
from api.tokens import validate_access_token
from authdemo.views import _error


class ServerTimingMiddleware:
    """Add `Server-Timing: auth;dur=<ms>;desc="<scheme>"` to every response.

    Browser developer tools and `curl -i` then show what authentication cost this
    request, and which scheme and transport did it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        record = get_auth_record(request)
        entry = f'auth;dur={record.seconds * 1000:.3f};desc="{record.scheme}"'
        existing = response.headers.get("Server-Timing")
        response.headers["Server-Timing"] = f"{existing}, {entry}" if existing else entry
        return response


def _jwt_cookie_username(request) -> str:
    if not hasattr(request, "_jwt_cookie_username"):  # once per request, as Django caches the user
        request._jwt_cookie_username = ""
        raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
        if raw:
            started = perf_counter()
            try:
                request._jwt_cookie_username = validate_access_token(raw)["username"]
            except InvalidToken:
                pass
            else:
                record_auth(request, scheme=Via.JWT_COOKIE, seconds=perf_counter() - started)
    return request._jwt_cookie_username


class JWTCookieAuthenticationMiddleware:
    """Authenticate the JWT access cookie for the site's pages: `request.jwt_cookie_username()`.

    Like Django's `request.user`, the token is checked only when asked for (once per
    request): the pages ask through the `auth_scheme` context processor, and
    PrivateCacheMiddleware asks for every response to a request that carries the cookie.
    The API's views authenticate it themselves (api.authentication).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.jwt_cookie_username = partial(_jwt_cookie_username, request)
        return self.get_response(request)


class PrivateCacheMiddleware:
    """Forbid any cache to keep a response that was made for an authenticated user.

    A request counts as authenticated when a session or the JWT access cookie
    authenticated it, whether or not a template looked at who it was.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not hasattr(request, "jwt_cookie_username"):
            raise ImproperlyConfigured(
                "authdemo.middleware.PrivateCacheMiddleware must come after "
                "authdemo.middleware.JWTCookieAuthenticationMiddleware in MIDDLEWARE."
            )
        response = self.get_response(request)
        if get_auth_record(request).authenticated or request.jwt_cookie_username():
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ("Cookie", "Authorization"))
        return response


class RequestBodyLimitMiddleware:
    """Answer a request body over DATA_UPLOAD_MAX_MEMORY_SIZE with 413, before anything reads it
    (any body, a form's file fields included: this site takes no uploads).

    Django alone raises RequestDataTooBig at the first read of such a body: a 400 (the debug
    page in debug) answered with the body unsent, and a server that then closes the connection
    resets it under a client still sending, which often loses the answer. Here the body is read
    and discarded first (up to DRAIN_LIMIT; past that, the client may see a reset), so the 413
    arrives whole. A chunked body without Content-Length (RFC 9112 section 6.1), which Django
    does not read at all, is read up to the limit and handed on with its length, or refused.

    Last in MIDDLEWARE: nothing reads a body before the views and process_view(), and the
    answer gets every other middleware's headers.
    """

    DRAIN_LIMIT = 1024 * 1024
    READ_SIZE = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def __call__(self, request):
        if self.limit is not None and self._too_large(request):
            return _error(request, 413, "Request too large", self._message(), "request_too_large")
        return self.get_response(request)

    def _message(self) -> str:
        return f"The request body is larger than this site accepts ({self.limit // 1024} KB)."

    def _too_large(self, request) -> bool:
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not request.META.get(
            "CONTENT_LENGTH"
        ):
            return self._read_chunked(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False  # Django reads such a body as empty
        if length <= self.limit:
            return False
        self._drain(request.read)
        return True

    def _read_chunked(self, request) -> bool:
        """Read a chunked body up to the limit and hand it on; True (and drained) if it is larger."""
        if not request.environ.get("wsgi.input_terminated"):  # a server that cannot signal its end
            return False
        source = request.environ["wsgi.input"]
        body = source.read(self.limit + 1)
        if len(body) > self.limit:
            self._drain(source.read)
            return True
        # As WSGIRequest builds its stream, but from the body we read (Django's reads CONTENT_LENGTH bytes).
        request.META["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(BytesIO(body), len(body))
        return False

    def _drain(self, read) -> None:
        left = self.DRAIN_LIMIT
        while left > 0 and (chunk := read(min(self.READ_SIZE, left))):
            left -= len(chunk)


class MessageMiddleware(messages_middleware.MessageMiddleware):
    """Django's MessageMiddleware, with the message storage made when it is first used.

    Django makes the storage (FallbackStorage: a cookie signer and a session store) at the
    start of every request, about 11 µs, and most requests (the API, /healthz, static files)
    never add or read a message. Here `request._messages` is a lazy object that makes it at
    its first use (`messages.success()`, `get_messages()`, a template's loop), as Django would
    have made it at the start; a storage nobody used has nothing to store, so the response
    skips Django's `update()`, which would have done nothing with it either.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(partial(default_storage, request))

    def process_response(self, request, response):
        lazy = getattr(request, "_messages", None)
        if isinstance(lazy, SimpleLazyObject) and lazy._wrapped is empty:
            return response
        return super().process_response(request, response)
