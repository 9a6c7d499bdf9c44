"""Django set up in this process as production runs it (debug off), for the in-process benchmarks."""

from __future__ import annotations

import os
import secrets


def setup_django(settings_module: str = "authdemo.settings", **environment: str) -> None:
    """Fill in what production requires (throwaway secrets; no mail is sent), unless the
    environment already says, then django.setup()."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "EMAIL_URL": "dummymail://",
        "SITE_URL": "http://127.0.0.1",
        **environment,
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
