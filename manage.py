#!/usr/bin/env python
"""Django's command-line utility; a configuration error is one line, not a traceback."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authdemo.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from authdemo.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018  (load settings now, to report a bad value in one line)
    except ConfigError as exc:
        sys.exit(f"authdemo: configuration error: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
