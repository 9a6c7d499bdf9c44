"""The bare project's WSGI application, with the benchmark's counters."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.bare.settings")

from bench.counting import counted  # noqa: E402  (after the settings module is chosen)

application = counted(get_wsgi_application())
