"""System checks: CORS for one origin, exactly (README "Cross-site clients")."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def cors_is_one_exact_origin(app_configs, **kwargs):
    """crosssite.E001: no wildcard, no pattern, no `null` in the CORS allowlist.

    A pattern or a wildcard is how a reflected or look-alike origin gets in (a regex missing its
    anchors or escaped dots); with credentials allowed it hands the user's answers to any site.
    """
    wide = getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False) or getattr(settings, "CORS_ORIGIN_ALLOW_ALL", False)
    patterns = getattr(settings, "CORS_ALLOWED_ORIGIN_REGEXES", ()) or getattr(
        settings, "CORS_ORIGIN_REGEX_WHITELIST", ()
    )
    listed = list(getattr(settings, "CORS_ALLOWED_ORIGINS", ()))
    if wide or patterns or any(origin in ("*", "null") for origin in listed) or len(listed) > 1:
        return [
            Error(
                "CORS must allow exactly one origin, named in full.",
                hint="Set CROSS_SITE_ORIGIN; do not set CORS_ALLOW_ALL_ORIGINS or CORS_ALLOWED_ORIGIN_REGEXES.",
                id="crosssite.E001",
            )
        ]
    return []
