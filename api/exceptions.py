"""One JSON shape for every API error: {"detail": "...", "code": "..."} (+ "fields")."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.views import exception_handler


def json_exception_handler(exc, context):
    """Shape DRF's error answers; anything else falls through to Django's handlers."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "code": "invalid", "fields": response.data}
        return response
    data = response.data if isinstance(response.data, dict) else {}
    detail = data.get("detail", getattr(exc, "detail", ""))
    code = data.get("code") or getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = {"detail": str(detail), "code": str(code)}
    return response
