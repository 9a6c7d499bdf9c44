"""The OpenAPI schema documents every endpoint and both transports; docs are served locally."""

import pytest
import yaml
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from api.checks import require_blacklist_app

ENDPOINTS = [
    "/api/token/", "/api/token/refresh/", "/api/token/verify/", "/api/token/blacklist/",
    "/api/cookie/login/", "/api/cookie/refresh/", "/api/cookie/logout/",
    "/api/dashboard/", "/api/me/",
]  # fmt: skip


def test_schema_documents_every_endpoint_and_transport(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert set(ENDPOINTS) <= set(schema["paths"])
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtBearer"]["scheme"] == "bearer"
    assert schemes["jwtCookie"]["in"] == "cookie"
    assert "401" in schema["paths"]["/api/token/refresh/"]["post"]["responses"]


def test_swagger_ui_assets_are_local(client, db):
    body = client.get("/api/docs/").content.decode()
    assert "cdn" not in body.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body


def test_startup_refuses_rotation_blacklisting_without_the_blacklist_app(settings):
    """Loading the apps without the blacklist app fails in ApiConfig.ready(): no silent skip."""
    installed = [a.name for a in apps.get_app_configs() if a.name != "rest_framework_simplejwt.token_blacklist"]
    with pytest.raises(ImproperlyConfigured, match="token_blacklist"):
        settings.INSTALLED_APPS = installed
    require_blacklist_app()  # the real configuration passes
