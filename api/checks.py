"""Start-up guards for the token configuration."""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_blacklist_app() -> None:
    """Refuse to start if rotation should blacklist but the blacklist app is missing.

    SimpleJWT silently skips blacklisting then, so rotated refresh tokens would stay
    valid: a configuration error must not become a security hole.
    """
    jwt = getattr(settings, "SIMPLE_JWT", {})
    if jwt.get("BLACKLIST_AFTER_ROTATION") and not apps.is_installed("rest_framework_simplejwt.token_blacklist"):
        raise ImproperlyConfigured(
            "SIMPLE_JWT['BLACKLIST_AFTER_ROTATION'] is on but 'rest_framework_simplejwt.token_blacklist' "
            "is not in INSTALLED_APPS; add it or turn rotation blacklisting off."
        )
