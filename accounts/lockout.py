"""The answer to a locked-out login: 429 with Retry-After, JSON for the API, a page otherwise."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    """Say the login is cooling off, identically for unknown users and wrong passwords."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = f"Too many failed logins. Try again in {seconds // 60} minutes."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "error.html", {"title": "Too many attempts", "message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
