"""System checks for the token configuration (`manage.py check`; run by migrate and runserver)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, register

# SimpleJWT settings that only SimpleJWT's own refresh serializer reads. authdemo's rotation
# (api.services.rotate_refresh_token) always rotates and blacklists: a token family's
# reuse detection depends on it (RFC 9700 section 4.14.2), so it cannot be switched off.
UNREAD_SIMPLE_JWT_SETTINGS = ("ROTATE_REFRESH_TOKENS", "BLACKLIST_AFTER_ROTATION")


@register(Tags.security)
def check_blacklist_app(app_configs, **kwargs) -> list[Error]:
    """api.E001: every rotation blacklists the old refresh token, in SimpleJWT's blacklist app."""
    if apps.is_installed("rest_framework_simplejwt.token_blacklist"):
        return []
    return [
        Error(
            "'rest_framework_simplejwt.token_blacklist' is not in INSTALLED_APPS.",
            hint="Refresh-token rotation blacklists every rotated token there; add the app.",
            id="api.E001",
        )
    ]


@register(Tags.security)
def check_unread_simple_jwt_settings(app_configs, **kwargs) -> list[Error]:
    """api.E002: a setting that says rotation could be off, where nothing reads it."""
    configured = getattr(settings, "SIMPLE_JWT", {})
    return [
        Error(
            f"SIMPLE_JWT['{name}'] is set, but authdemo's refresh does not read it.",
            hint="Every refresh rotates the token and blacklists the old one (token families, "
            "RFC 9700 section 4.14.2); remove the setting.",
            id="api.E002",
        )
        for name in UNREAD_SIMPLE_JWT_SETTINGS
        if name in configured
    ]
