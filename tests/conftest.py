"""Fixtures of several test folders: real services, engine parametrization, real server processes.

A folder's own fixtures are in its conftest.py (tests/e2e: the browser; tests/cluster: nginx
and the app instances); helpers a test imports are in tests/support.py.

A test that needs Redis, PostgreSQL or Chromium skips with a one-line reason when the
service is missing; with REQUIRE_SERVICES=1 (as in CI) that skip becomes a failure.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import time_machine
from django.conf import settings as django_settings

from accounts import vocabulary
from accounts.selectors import CUTOFF_KEY_PREFIX
from copies import channel, postgres_sessions
from copies.redis_cache import RedisCopies
from harness.stack import NO_ADDRESS_LIMITS, Server, VerifierServer, free_port
from tests.factories import PASSWORD, UserFactory
from tests.support import ROOT, need, redis_cache_settings, use_key_ring, with_copies

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def still_clock():
    """Hold the clock: django-ratelimit counts in fixed windows (ending at a per-key offset),
    so attempts that straddle a window's end on a slow machine would count in two windows."""
    with time_machine.travel(time.time(), tick=False):
        yield


# -- services ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except redis.RedisError:
        need(f"Redis is not answering at {url}")
    return url


def pytest_collection_modifyitems(items):
    """Mark `own_stores` the tests that run only on stores of their own (harness_stores: the
    benchmark's, the load test's, `make drill`'s PostgreSQL), whatever database the suite runs on:
    they test the same thing on either, so CI's second pass (SQLite) leaves them out, as it leaves
    out `postgres`."""
    for item in items:
        if "harness_stores" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.own_stores)


@pytest.fixture(scope="session")
def harness_stores() -> None:
    """Require the PostgreSQL server and Redis that the benchmark and load harnesses use
    for databases of their own (harness.stack), whatever database the suite runs on."""
    from harness.stack import PG_ADMIN_URL, REDIS_HOST_URL

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        redis.Redis.from_url(REDIS_HOST_URL, socket_connect_timeout=1).ping()
    except (psycopg.Error, redis.RedisError) as exc:
        need(f"the harness needs PostgreSQL and Redis: {exc}")


class OwnRedis:
    """A redis-server on a free port, which a test may stop and start again."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout == b"PONG\n":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)

    def pause(self):
        """Freeze the server: connections stay open and nothing answers (a hung Redis)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def own_redis(tmp_path):
    if not shutil.which("redis-server"):
        need("redis-server is not installed")
    redis = OwnRedis(tmp_path)
    redis.start()
    yield redis
    if redis.process.poll() is None:
        redis.stop()


@pytest.fixture
def postgres(db) -> None:
    """Require the suite to be running on PostgreSQL (DATABASE_URL=postgres://...)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        need("this test needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture(autouse=True)
def _isolated_caches(settings):
    """Give every test caches of its own: a fresh key prefix in Redis, a fresh local memory."""
    caches = copy.deepcopy(settings.CACHES)
    run = uuid.uuid4().hex[:12]
    for alias, config in caches.items():
        config["KEY_PREFIX"] = f"test-{run}-{alias}"
        if config["BACKEND"].endswith("LocMemCache"):
            config["LOCATION"] = f"test-{run}-{alias}"
    settings.CACHES = caches
    yield
    # Each test's caches are its own configuration, so are their copies and listeners: stop them.
    channel.close_all(RedisCopies, wait=False)


@pytest.fixture
def redis_cache(settings, redis_url):
    """Point the default cache at real Redis for this test."""
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(redis_url, f"test-{uuid.uuid4().hex[:12]}")}


@pytest.fixture
def redis_throttle_cache(settings, redis_url):
    """Point the throttle cache (DRF throttle, per-address limits) at real Redis for this test."""
    settings.CACHES = {**settings.CACHES, "throttle": redis_cache_settings(redis_url, f"test-{uuid.uuid4().hex[:12]}")}


@pytest.fixture
def dead_throttle_cache(settings):
    """Point the throttle cache at a Redis address where nothing listens: every call fails."""
    settings.CACHES = {
        **settings.CACHES,
        "throttle": redis_cache_settings(f"redis://127.0.0.1:{free_port()}/0", "dead"),
    }


@pytest.fixture
def use_engine(request, settings):
    """Switch this test to a session engine: `use_engine(SIGNED_COOKIES)`; settings restore themselves.

    Engines that keep sessions in the cache get real Redis (`redis_cache`).
    """

    def _use(engine: str) -> str:
        if vocabulary.session_engine(engine).needs_cache:
            request.getfixturevalue("redis_cache")
        settings.SESSION_BACKEND = engine
        settings.SESSION_ENGINE = vocabulary.session_engine(engine).module
        return engine

    return _use


@pytest.fixture(params=vocabulary.ENGINE_KEYS)
def session_engine(request, use_engine) -> str:
    """Run the test once per session engine; redis and cached_db use real Redis."""
    return use_engine(request.param)


@pytest.fixture(params=vocabulary.REVOCABLE_ENGINE_KEYS)
def revocable_engine(request, use_engine) -> str:
    """Like `session_engine`, for the engines the server can end a session on."""
    return use_engine(request.param)


# -- signing keys --------------------------------------------------------------------------

ASYMMETRIC = ("RS256", "ES256", "EdDSA")


@pytest.fixture(params=ASYMMETRIC)
def asymmetric(request, settings, tmp_path) -> str:
    """Run the test once per asymmetric algorithm, each with a key ring of its own."""
    use_key_ring(settings, tmp_path / "keys", request.param)
    return request.param


@pytest.fixture
def es256(settings, tmp_path) -> str:
    """Sign with ES256 from a fresh key ring (for tests that need one algorithm only)."""
    use_key_ring(settings, tmp_path / "keys", "ES256")
    return "ES256"


# -- users and clients -------------------------------------------------------------------


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", display_name="Bob")


@pytest.fixture
def staff(db):
    return UserFactory(username="admin", display_name="Admin", is_staff=True, is_superuser=True)


@pytest.fixture
def login(client):
    """Log `client` in through the real login form; return the response."""

    def _login(user, password: str = PASSWORD, **extra):
        return client.post("/accounts/login/", {"username": user.username, "password": password}, **extra)

    return _login


@pytest.fixture
def api_login(client):
    """Obtain a token pair through the real endpoint; return the JSON body."""

    def _obtain(user, password: str = PASSWORD) -> dict:
        response = client.post(
            "/api/token/", {"username": user.username, "password": password}, content_type="application/json"
        )
        assert response.status_code == 200, response.content
        return response.json()

    return _obtain


# -- real server processes ------------------------------------------------------------------


def database_url_for_subprocess() -> str:
    """The URL of the test database this run created, for a server process to share."""
    from django.db import connection

    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    host, port = cfg.get("HOST") or "127.0.0.1", cfg.get("PORT") or 5432
    return f"postgres://{cfg.get('USER') or ''}@{host}:{port}/{cfg['NAME']}"


@pytest.fixture(scope="session")
def server_env(django_db_setup, django_db_blocker) -> dict[str, str]:
    """Environment for server processes: the test database, the same secrets and Redis."""
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "authdemo.settings_test",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
        "JWT_SIGNING_KEY": django_settings.SIMPLE_JWT["SIGNING_KEY"],
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "PYTHONUNBUFFERED": "1",
        "EMAIL_URL": "dummymail://",
        "SITE_URL": "http://127.0.0.1",  # required with debug off; no mail is sent
        **NO_ADDRESS_LIMITS,  # every browser test logs in from 127.0.0.1; tests/security checks the limits
        # The DRF throttle too: its counts live in the shared Redis, so every server of the run adds to
        # one per-address count (tests/security and tests/cluster check the throttle with their own rate).
        "AUTH_THROTTLE_RATE": "100000/minute",
    }
    # Debug off serves static files from the collected manifest, as in production.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    return env


def _launcher(tmp_path_factory, kind: str, build):
    """Yield a function that builds a process of one kind (`build(name, log, ...)`), starts it
    and waits until it is ready; every process it started is stopped at the end of the run."""
    started = []
    logs = tmp_path_factory.mktemp(f"{kind}-logs")

    def _start(*args, **kwargs):
        name = f"{kind}-{len(started)}"
        process = build(name, logs / f"{name}.log", *args, **kwargs)
        started.append(process)
        return process.start().wait_ready()

    yield _start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def start_server(server_env, tmp_path_factory):
    """Start gunicorn processes on free ports; all are stopped at the end of the run."""

    def build(name: str, log: Path, workers: int = 1, **overrides: str) -> Server:
        return Server(name, {**server_env, **overrides}, log, app="authdemo.wsgi", workers=workers, access_log=True)

    yield from _launcher(tmp_path_factory, "server", build)


@pytest.fixture(scope="session")
def start_keyed_site(start_server, tmp_path_factory):
    """Start an authdemo server that signs with `algorithm` from a key ring of its own;
    return (server, keys directory)."""
    from api import keys

    def _start(algorithm: str = "ES256", **overrides: str) -> tuple[Server, Path]:
        directory = tmp_path_factory.mktemp("keys")
        keys.activate_key(
            directory=directory, kid=keys.generate_key(directory=directory, algorithm=algorithm), algorithm=algorithm
        )
        return start_server(JWT_ALGORITHM=algorithm, JWT_KEYS_DIR=str(directory), **overrides), directory

    return _start


@pytest.fixture(scope="session")
def start_verifier(tmp_path_factory):
    """Start the verifier service (`python -m verifier`) for an authdemo server; it gets no
    secret, no database and no Redis: only the key-set URL."""

    def build(name: str, log: Path, site: Server, **overrides: str) -> VerifierServer:
        env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", "JWKS_URL": f"{site.url}/.well-known/jwks.json"}
        return VerifierServer(name, {**env, **overrides}, log)

    yield from _launcher(tmp_path_factory, "verifier", build)


@pytest.fixture(scope="session")
def app_server(start_server) -> Server:
    """One shared server process on the suite's database (use with `transactional_db`)."""
    return start_server()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, and before it drops the test database: stop this process's session
    listeners (copies.postgres_sessions), whose connections would keep the database in use."""
    yield
    postgres_sessions.close_all()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """Keep an SQLite test database in a file, so server processes can share it."""
    database = django_settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(tempfile.gettempdir()) / f"authdemo-test-{os.getpid()}.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(name)


# == the cluster's stores: Redis primary + replica + three Sentinels (deploy.cluster), for tests/accounts
# and tests/cluster; the app instances and nginx are in tests/cluster/conftest.py ==


@pytest.fixture(scope="session")
def cluster_stores(tmp_path_factory):
    """Redis primary, two replicas and three Sentinels of our own on free ports, for the whole run."""
    from deploy.cluster.launcher import MAIN, Cluster, missing_programs

    if missing := missing_programs():
        need(f"the cluster needs Debian's {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    workdir = tmp_path_factory.mktemp("cluster")
    cluster = Cluster({}, workdir, groups={"main": (2, MAIN)}, state_path=workdir / "state.json")
    try:
        yield cluster.start_stores()
    finally:
        cluster.stop()


@pytest.fixture
def sentinel_stores(cluster_stores):
    """The cluster's Redis, healthy again after whatever an earlier test killed, and empty."""
    cluster_stores.wait_recovered()
    cluster_stores.client(cluster_stores.primary()).flushall()
    return cluster_stores


@pytest.fixture
def sentinel_cache(settings, sentinel_stores):
    """Point the default cache at the cluster's Redis through its Sentinels, as REDIS_SENTINELS does."""
    from deploy.cluster.launcher import SERVICE

    sentinels = [("127.0.0.1", sentinel.port) for sentinel in sentinel_stores.sentinels]
    options = {"CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory", "SENTINELS": sentinels,
               "CONNECTION_POOL_CLASS": "accounts.sentinel.FollowingSentinelPool",
               "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}  # fmt: skip
    settings.CACHES = {**settings.CACHES, "default": with_copies({
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{SERVICE}/0",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}", "OPTIONS": options,
    }, (CUTOFF_KEY_PREFIX,) if django_settings.LOCAL_TIER == "on" else ())}  # fmt: skip
    settings.REDIS_WAIT_REPLICAS = 1
    return sentinel_stores


# == async code after a browser test (the browser itself: tests/e2e/conftest.py) ================


@pytest.fixture
def async_to_sync_allowed():
    """Let this test drive async code with `async_to_sync`, even after a browser test.

    The loop Playwright's sync API leaves marked as running in the main thread (tests/e2e) makes
    asgiref refuse ("You cannot use AsyncToSync in the same thread as an async event loop").
    The browser is idle while a non-browser test runs, so the mark is lifted for the test
    and put back after it.
    """
    browser_loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    yield
    asyncio._set_running_loop(browser_loop)
