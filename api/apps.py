from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "JWT API"

    def ready(self) -> None:
        from api import schema  # noqa: F401  (registers the OpenAPI extensions)
        from api.checks import require_blacklist_app

        require_blacklist_app()
