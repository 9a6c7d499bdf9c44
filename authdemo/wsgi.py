"""WSGI entry point (gunicorn authdemo.wsgi); a configuration error is one line."""

import os
import sys

from django.core import checks
from django.core.wsgi import get_wsgi_application

from authdemo.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authdemo.settings")
try:
    application = get_wsgi_application()
    from api.key_checks import require_signing_keys

    require_signing_keys()
except ConfigError as exc:
    sys.exit(f"authdemo: configuration error: {exc}")

# gunicorn runs no system checks (manage.py's commands do): run them here, so a configuration
# guard (accounts.E001, api.E001, ...) stops the server at start, not at the first request.
if errors := [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]:
    sys.exit("authdemo: configuration error: " + " ".join(f"({m.id}) {m.msg}" for m in errors))
