"""Django's own session-store tests, run against our engines on real Redis.

Django's test suite is not installed with Django, and its files may not be committed here
(the project's licence rule), so the first run fetches the sdist of the installed version
from PyPI (`pip download`, the only network it uses) and keeps `tests/sessions_tests/` and the
failing cache the tests use in ~/.cache/authdemo/django-<version>-tests/ (or
$AUTHDEMO_DJANGO_TESTS). Every test of `CacheSessionTests` runs against the redis engine, and
of `CacheDBSessionTests` (with and without time zones) against cached_db, as Django runs them;
the one test that cannot apply is replaced by its Redis equivalent below, with the reason.

Our stores keep each session under the SHA-256 of its key (accounts.session_engines.keys).
Django's cache tests read the cache through `session.cache_key`, which is ours, so they run
unchanged. Three of `DatabaseSessionTests` look a row up by the cookie's key
(`test_session_str`, `test_session_get_decoded`, `test_sessionmanager_save`): they are
replaced by the same checks looked up by the stored key (`HashedRowTests`), and
`session_engine` names our engine, so `test_clearsessions_command` runs `clearsessions` on it.
"""

import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
import types
import uuid
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.contrib.sessions.backends.cache import KEY_PREFIX as CACHE_SESSION_PREFIX
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.core.cache import caches
from django.test import override_settings

from accounts.selectors import CUTOFF_KEY_PREFIX
from accounts.session_engines import cached_db
from accounts.session_engines import db as db_engine
from accounts.session_engines import redis as redis_engine
from accounts.session_engines.keys import stored_key
from copies import postgres_sessions
from tests.support import REQUIRE_SERVICES, redis_cache_settings

pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("async_to_sync_allowed")]
# What the session tests import from Django's test tree, and nothing else.
WANTED = ("sessions_tests/__init__.py", "sessions_tests/tests.py", "cache/__init__.py", "cache/failing_cache.py")


def django_tests_dir() -> Path:
    """Return a directory holding Django's session tests for the installed Django; fetch once."""
    version = django.__version__
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "authdemo"
    target = Path(os.environ.get("AUTHDEMO_DJANGO_TESTS") or default / f"django-{version}-tests")
    if all((target / name).is_file() for name in WANTED):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--disable-pip-version-check", f"Django=={version}", "--dest", work],
            check=True, timeout=600,
        )  # fmt: skip
        (sdist,) = Path(work).glob("*.tar.gz")
        tree = Path(work) / "tree"
        with tarfile.open(sdist) as archive:
            for name in WANTED:
                member = archive.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/tests/{name}")
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                (tree / name).write_bytes(member.read())
        try:
            tree.rename(target)
        except OSError:  # another run got there first
            if not target.is_dir():
                raise
    return target


def import_django_session_tests() -> types.ModuleType:
    """Import Django's sessions_tests.tests without its custom-model app.

    Its `models` module defines a Session model for `CustomDatabaseSessionTests`, which we do
    not run (it tests Django's db engine); installing it would need an app and a table. The
    stand-in gives that one name the db engine's store.
    """
    sys.path.insert(0, str(django_tests_dir()))
    importlib.import_module("sessions_tests")
    sys.modules["sessions_tests.models"] = types.SimpleNamespace(SessionStore=DatabaseStore)
    return importlib.import_module("sessions_tests.tests")


try:
    django_tests = import_django_session_tests()
except (OSError, subprocess.SubprocessError, KeyError) as exc:
    reason = f"Django's session tests could not be fetched from PyPI ({exc})"
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


class HashedRowTests:
    """Django's tests that read a row by the cookie's key, reading it by the stored key."""

    def stored_row(self):
        self.session["x"] = 1
        self.session.save()
        return self.model.objects.get(session_key=stored_key(self.session.session_key))

    def test_session_str(self):
        # Django's: str(row) is the key. Here the row knows only the key's digest.
        assert str(self.stored_row()) == stored_key(self.session.session_key) != self.session.session_key

    def test_session_get_decoded(self):
        assert self.stored_row().get_decoded() == {"x": 1}

    def test_sessionmanager_save(self):
        row = self.stored_row()
        self.model.objects.save(row.session_key, {"y": 2}, row.expire_date)
        del self.session._session_cache  # read it again from the database
        assert self.session["y"] == 2


class TestDbEngineKeepsDjangosContract(HashedRowTests, django_tests.DatabaseSessionTests):
    backend = db_engine.SessionStore
    session_engine = "accounts.session_engines.db"


class TestDbEngineKeepsDjangosContractWithTimeZones(HashedRowTests, django_tests.DatabaseSessionWithTimeZoneTests):
    backend = db_engine.SessionStore
    session_engine = "accounts.session_engines.db"


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres")
class TestPostgresCopiesEngineKeepsDjangosContract(HashedRowTests, django_tests.DatabaseSessionTests):
    """copies.postgres_sessions, on PostgreSQL where it keeps copies (inside each test's
    transaction nothing is kept, but every load goes through the copies' path)."""

    backend = postgres_sessions.SessionStore
    session_engine = "copies.postgres_sessions"


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres")
class TestPostgresCopiesEngineKeepsDjangosContractWithTimeZones(
    HashedRowTests, django_tests.DatabaseSessionWithTimeZoneTests
):
    backend = postgres_sessions.SessionStore
    session_engine = "copies.postgres_sessions"


@pytest.mark.usefixtures("redis_cache")
class TestRedisEngineKeepsDjangosContract(django_tests.CacheSessionTests):
    backend = redis_engine.SessionStore

    def test_non_default_cache(self):
        # Django's version puts the sessions on a local-memory cache, which this engine
        # refuses at start (accounts.E001): the same check with Redis as the sessions cache.
        dummy = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
        with override_settings(
            CACHES={"default": dummy, "sessions": settings.CACHES["default"]},
            SESSION_CACHE_ALIAS="sessions",
        ):
            session = self.backend()
            session.save()
            assert caches["default"].get(session.cache_key) is None
            assert caches["sessions"].get(session.cache_key) is not None
            session.delete()


@pytest.fixture
def redis_cache_with_session_copies(settings, redis_url):
    """The sessions' cache as LOCAL_TIER=on configures it for Redis sessions: copies.redis_cache."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    copied = (CUTOFF_KEY_PREFIX, CACHE_SESSION_PREFIX)
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(redis_url, prefix, copies=copied)}
    yield
    caches["default"].copies.close()


@pytest.mark.usefixtures("redis_cache_with_session_copies")
class TestRedisEngineOnTheTrackingCacheKeepsDjangosContract(TestRedisEngineKeepsDjangosContract):
    """The same tests with every session read served through this process's copies."""


@pytest.mark.usefixtures("redis_cache")
class TestCachedDbEngineKeepsDjangosContract(django_tests.CacheDBSessionTests):
    backend = cached_db.SessionStore


@pytest.mark.usefixtures("redis_cache")
class TestCachedDbEngineKeepsDjangosContractWithTimeZones(django_tests.CacheDBSessionWithTimeZoneTests):
    backend = cached_db.SessionStore
