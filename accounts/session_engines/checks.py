"""System checks for the session engines: a misconfiguration stops start-up in one line."""

from importlib import import_module

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


@checks.register(checks.Tags.caches)
def check_session_cache(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Refuse an engine that writes with SET NX/XX on a cache that is not django-redis.

    Another cache would accept the settings and fail with a TypeError on the first save.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not getattr(store, "needs_redis_cache", False):
        return []
    alias = settings.SESSION_CACHE_ALIAS
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if _is_django_redis(backend):
        return []
    return [
        checks.Error(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} needs a django-redis cache, but "
            f"CACHES[{alias!r}] is {backend or 'not configured'}.",
            hint="Set REDIS_URL (for example redis://127.0.0.1:6379/0), or point SESSION_CACHE_ALIAS "
            "at a django_redis.cache.RedisCache.",
            id="accounts.E001",
        )
    ]


def _is_django_redis(backend: str) -> bool:
    from django_redis.cache import RedisCache

    try:
        return issubclass(import_string(backend), RedisCache)
    except ImportError:
        return False
