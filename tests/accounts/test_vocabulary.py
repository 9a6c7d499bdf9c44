"""The shared names: settings and models take the session engines from accounts.vocabulary."""

from importlib import import_module

from django.conf import settings

from accounts import vocabulary
from accounts.models import UserSession


def test_settings_session_engine_is_the_vocabulary_module_of_session_backend():
    module = vocabulary.session_engine(settings.SESSION_BACKEND).module
    if settings.SESSION_ENGINE == "copies.postgres_sessions":  # LOCAL_TIER=on adds copies to the db engine
        assert issubclass(import_module(settings.SESSION_ENGINE).SessionStore, import_module(module).SessionStore)
    else:
        assert module == settings.SESSION_ENGINE


def test_registry_engine_choices_are_the_vocabulary_labels():
    choices = UserSession._meta.get_field("engine").choices
    assert choices == [(engine.key, engine.label) for engine in vocabulary.SESSION_ENGINES]


def test_only_signed_cookies_cannot_be_revoked():
    assert vocabulary.REVOCABLE_ENGINE_KEYS == (vocabulary.DB, vocabulary.REDIS, vocabulary.CACHED_DB)
