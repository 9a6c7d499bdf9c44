from django.apps import AppConfig


class CrossSiteConfig(AppConfig):
    name = "crosssite"
    verbose_name = "Cross-site clients"
