from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "JWT API"

    def ready(self) -> None:
        from api import checks, key_checks, schema  # noqa: F401  (register the system checks and OpenAPI extensions)
