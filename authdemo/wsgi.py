"""WSGI entry point (gunicorn authdemo.wsgi); a configuration error is one line."""

from django.core.wsgi import get_wsgi_application

from authdemo.startup import load_application

application = load_application(get_wsgi_application)
