"""The cross-scheme pages, health probes and error pages."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.generic import TemplateView

from accounts.http import OUTAGES
from api.keys import KeyFileError

DEMO_COOKIE_AGE = 900


class HomeView(TemplateView):
    template_name = "authdemo/home.html"


def cookie_demo(request):
    """Set `user=john_doe` (HttpOnly, Max-Age 900) and show what went out and came back."""
    sent = {name: _mask(name, value) for name, value in sorted(request.COOKIES.items())}
    response = TemplateResponse(request, "authdemo/cookies.html", {"received": sent})
    response.set_cookie(
        "user",
        "john_doe",
        max_age=DEMO_COOKIE_AGE,
        httponly=True,
        secure=settings.SECURE_COOKIES,
        samesite="Lax",
    )
    response.context_data["set_cookie"] = response.cookies["user"].output(header="Set-Cookie:")
    return response


def _mask(name: str, value: str) -> str:
    """Show the demo cookie as it is; credentials only by their first characters."""
    if name == "user":
        return value
    return f"{value[:6]}… ({len(value)} bytes)" if len(value) > 6 else "…"


@method_decorator(ensure_csrf_cookie, name="dispatch")
class SpaView(TemplateView):
    template_name = "authdemo/spa.html"


@never_cache
def healthz(request):
    """Liveness: no authentication, no database; the benchmark's baseline."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
def readyz(request):
    """Readiness: the database and every cache answer."""
    checks = {}
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError:
        checks["database"] = "unavailable"
    for alias in settings.CACHES:
        try:
            caches[alias].get("readyz")
            checks[f"cache:{alias}"] = "ok"
        except OUTAGES:
            checks[f"cache:{alias}"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


def _error(request, status: int, title: str, message: str, code: str):
    if request.path.startswith(("/api/", "/.well-known/")):  # machine clients: JSON
        response = JsonResponse({"detail": message, "code": code}, status=status)
    elif status >= 500:  # drawn without the request: its session or user may be what failed
        response = HttpResponse(render_to_string("error.html", {"title": title, "message": message}), status=status)
    else:
        response = render(request, "error.html", {"title": title, "message": message}, status=status)
    if status == 503:
        response["Retry-After"] = "5"
    return response


def server_error(request):
    """500 handler: an outage of the database or Redis, or signing keys that cannot sign (a key
    ring changed under the running site), is a 503 with Retry-After, not a 500."""
    if isinstance(sys.exc_info()[1], KeyFileError):
        return _error(
            request,
            503,
            "Service unavailable",
            "This site cannot sign tokens right now (its signing keys need attention). Please try again later.",
            "signing_unavailable",
        )
    if isinstance(sys.exc_info()[1], OUTAGES):
        return _error(
            request,
            503,
            "Service unavailable",
            "A store this site depends on is not answering. Please try again in a few seconds.",
            "service_unavailable",
        )
    return _error(request, 500, "Server error", "Something went wrong on our side.", "server_error")


def page_not_found(request, exception):
    return _error(request, 404, "Not found", "There is nothing at this address.", "not_found")


def bad_request(request, exception):
    return _error(request, 400, "Bad request", "The request could not be understood.", "bad_request")


def permission_denied(request, exception):
    return _error(request, 403, "Forbidden", "You are not allowed to do that.", "permission_denied")


def csrf_failure(request, reason=""):
    """CSRF rejection: explain, without echoing the token or the reason's internals."""
    return _error(
        request,
        403,
        "Request blocked",
        "This form was not sent from this site, or your page was open too long. Reload it and try again.",
        "csrf_failed",
    )
