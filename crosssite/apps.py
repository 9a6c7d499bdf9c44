from django.apps import AppConfig


class CrossSiteConfig(AppConfig):
    name = "crosssite"
    verbose_name = "Cross-site clients"

    def ready(self):
        from crosssite import checks  # noqa: F401  (registers the system checks)
