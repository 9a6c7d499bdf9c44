"""The one start-up guard shared by wsgi.py and asgi.py: a configuration error is one line."""

import os
import sys
from collections.abc import Callable

from django.core import checks

from authdemo.env import ConfigError


def load_application(get_application: Callable):
    """Return Django's application, or stop the process with one line.

    Servers (gunicorn, uvicorn) run no system checks (manage.py's commands do): run them here,
    so a configuration guard (accounts.E001, api.E010, ...) stops the server at start, not at
    the first request.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authdemo.settings")
    try:
        application = get_application()
    except ConfigError as exc:
        sys.exit(f"authdemo: configuration error: {exc}")
    if errors := [m for m in checks.run_checks() if m.is_serious() and not m.is_silenced()]:
        sys.exit("authdemo: configuration error: " + " ".join(f"({m.id}) {m.msg}" for m in errors))
    return application
