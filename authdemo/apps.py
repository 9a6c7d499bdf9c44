from django.apps import AppConfig


class AuthdemoConfig(AppConfig):
    name = "authdemo"
    verbose_name = "authdemo site"
