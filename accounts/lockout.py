"""Answers to too many attempts: 429 with Retry-After, JSON for the API, a page otherwise."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    """Say the login is cooling off (django-axes), identically for unknown users and wrong passwords."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = f"Too many failed logins. Try again in {_wait(seconds)}."
    return _too_many(request, message=message, code="locked_out", retry_after=seconds)


def too_many_attempts(request, *, retry_after: int) -> HttpResponse:
    """Say this address made too many attempts (accounts.limits)."""
    message = f"Too many attempts from your address. Try again in {_wait(retry_after)}."
    return _too_many(request, message=message, code="throttled", retry_after=retry_after)


def _too_many(request, *, message: str, code: str, retry_after: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": code}, status=429)
    else:
        response = render(request, "error.html", {"title": "Too many attempts", "message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def _wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"
