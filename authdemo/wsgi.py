"""WSGI entry point (gunicorn authdemo.wsgi); a configuration error is one line."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from authdemo.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authdemo.settings")
try:
    application = get_wsgi_application()
    from api.key_checks import require_signing_keys

    require_signing_keys()
except ConfigError as exc:
    sys.exit(f"authdemo: configuration error: {exc}")
