from django.apps import AppConfig


class DeviceBoundConfig(AppConfig):
    name = "devicebound"
    verbose_name = "Device-bound sessions (DBSC)"

    def ready(self) -> None:
        from devicebound import signals  # noqa: F401  (connects the login receiver)
