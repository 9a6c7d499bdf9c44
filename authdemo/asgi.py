"""ASGI entry point; a configuration error is one line, as for WSGI."""

from django.core.asgi import get_asgi_application

from authdemo.startup import load_application

application = load_application(get_asgi_application)
