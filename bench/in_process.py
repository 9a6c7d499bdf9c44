"""Django set up in this process as production runs it (debug off), for the in-process benchmarks,
and a way to run one of them in an interpreter of its own (`make bench` does, for each)."""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def setup_django(settings_module: str = "authdemo.settings", **environment: str) -> None:
    """Fill in what production requires (throwaway secrets; no mail is sent), unless the
    environment already says, then django.setup()."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "EMAIL_URL": "dummymail://",
        "SITE_URL": "http://127.0.0.1",
        **environment,
    }
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


def _replace_environment(environment: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(environment)


def isolated(function, environment: dict[str, str], /, *args, **kwargs):
    """Return `function(*args, **kwargs)` called in a fresh interpreter whose environment is
    exactly `environment`: Django is set up once per process with one settings module, and
    a benchmark's setup (its settings, its test database) must not reach the caller's."""
    context = get_context("spawn")  # not fork: the caller may hold connections and threads
    with ProcessPoolExecutor(1, mp_context=context, initializer=_replace_environment, initargs=(environment,)) as pool:
        return pool.submit(function, *args, **kwargs).result()
