"""Shared test set-up: real services, engine parametrization, real server processes.

A test that needs Redis, PostgreSQL or Chromium skips with a one-line reason when the
service is missing; with REQUIRE_SERVICES=1 (as in CI) that skip becomes a failure.
"""

from __future__ import annotations

import asyncio
import copy
import os
import re
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
import requests
import time_machine
from django.conf import settings as django_settings

from accounts import vocabulary
from accounts.selectors import CUTOFF_KEY_PREFIX
from bench.stack import NO_ADDRESS_LIMITS, Server, VerifierServer, free_port, log_in
from copies import channel, postgres_sessions
from copies.redis_cache import RedisCopies
from tests.factories import PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def eventually(condition, *, within: float = 10.0, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail after `within` seconds (a bound on a hung
    test, not a speed assertion: speed is measured by `make bench`)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not hold within {within} s")
        time.sleep(0.01)


def listener_log(copies, caplog) -> list[str]:
    """The levels and messages logged by `copies`'s own listener thread (copies.channel), not
    by the other listeners this process may run."""
    ident = copies._thread.ident
    return [f"{record.levelname} {record.getMessage()}" for record in caplog.records if record.thread == ident]


@pytest.fixture
def still_clock():
    """Hold the clock: django-ratelimit counts in fixed windows (ending at a per-key offset),
    so attempts that straddle a window's end on a slow machine would count in two windows."""
    with time_machine.travel(time.time(), tick=False):
        yield


def need(reason: str) -> None:
    """Skip for a missing service, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


README = ROOT / "README.md"


def readme_script(after: str) -> str:
    """Return the first ```sh block of README.md that follows the text `after`."""
    section = README.read_text().split(after, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def run_readme_script(script: str, *, cwd: Path, **env: str) -> None:
    """Run a README curl walkthrough as written (bash -euo pipefail, real curl) and check that
    it prints exactly one line per `# => ` comment, each containing what the comment says."""
    if shutil.which("curl") is None:
        need("curl is not installed")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout.splitlines()
    expected = [line.removeprefix("# => ") for line in script.splitlines() if line.startswith("# => ")]
    assert len(output) == len(expected), result.stdout
    for got, want in zip(output, expected, strict=True):
        assert want in got


# -- services ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
    except redis.RedisError:
        need(f"Redis is not answering at {url}")
    return url


@pytest.fixture(scope="session")
def harness_stores() -> None:
    """Require the PostgreSQL server and Redis that the benchmark and load harnesses use
    for databases of their own (bench.stack), whatever database the suite runs on."""
    from bench.stack import PG_ADMIN_URL, REDIS_HOST_URL

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


def _redis_cache(url: str, prefix: str, *, copies: tuple[str, ...] | None = None) -> dict:
    """A cache on Redis at `url`: copies.redis_cache.TrackingRedisCache keeping copies of the
    keys under `copies`, or by default as the site configures it (with LOCAL_TIER=on, copies
    of the cut-off; with LOCAL_TIER=off, django-redis's RedisCache)."""
    if copies is None:
        copies = (CUTOFF_KEY_PREFIX,) if django_settings.LOCAL_TIER == "on" else ()
    return _with_copies(
        {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        },
        copies,
    )


def _with_copies(config: dict, copies: tuple[str, ...]) -> dict:
    if not copies:
        return config
    options = {**config["OPTIONS"], "COPY_PREFIXES": list(copies)}
    return {**config, "BACKEND": "copies.redis_cache.TrackingRedisCache", "OPTIONS": options}


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
    settings.CACHES = {**settings.CACHES, "default": _redis_cache(redis_url, f"test-{uuid.uuid4().hex[:12]}")}


@pytest.fixture
def redis_throttle_cache(settings, redis_url):
    """Point the throttle cache (DRF throttle, per-address limits) at real Redis for this test."""
    settings.CACHES = {**settings.CACHES, "throttle": _redis_cache(redis_url, f"test-{uuid.uuid4().hex[:12]}")}


@pytest.fixture
def dead_throttle_cache(settings):
    """Point the throttle cache at a Redis address where nothing listens: every call fails."""
    settings.CACHES = {**settings.CACHES, "throttle": _redis_cache(f"redis://127.0.0.1:{free_port()}/0", "dead")}


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


def use_key_ring(settings, directory: Path, algorithm: str) -> str:
    """Sign with `algorithm` from a fresh key ring in `directory`; return the active kid."""
    from api import keys

    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ALGORITHM": algorithm}
    settings.JWT_KEYS_DIR = directory
    kid = keys.generate_key(directory=directory, algorithm=algorithm)
    keys.activate_key(directory=directory, kid=kid, algorithm=algorithm)
    return kid


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


def client_logged_in_as(user, password: str = PASSWORD, **extra):
    """Another browser: a fresh test Client logged in as `user` through the real login form."""
    from django.test import Client

    other = Client(**extra)
    response = other.post("/accounts/login/", {"username": user.username, "password": password})
    assert response.status_code == 302, response.content
    return other


# -- real server processes ------------------------------------------------------------------


def form_login(base: str, username: str) -> requests.Session:
    """Log in through a server's real login form, as a browser would (bench.stack.log_in)."""
    return log_in(base, username, PASSWORD)


def log_out_everywhere(browser: requests.Session, base: str) -> None:
    """Press "log out everywhere" on a server's sessions page."""
    response = browser.post(
        f"{base}/accounts/sessions/everywhere/",
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/sessions/"},
        timeout=10,
    )
    assert response.status_code == 200, response.status_code


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


# == the cluster: Redis primary + replica + three Sentinels, app instances, nginx (bench.cluster) ==


@pytest.fixture(scope="session")
def cluster_stores(tmp_path_factory):
    """Redis primary, replica and three Sentinels of our own on free ports, for the whole run."""
    from bench.cluster import MAIN, Cluster, missing_programs

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
    from bench.cluster import SERVICE

    sentinels = [("127.0.0.1", sentinel.port) for sentinel in sentinel_stores.sentinels]
    options = {"CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory", "SENTINELS": sentinels,
               "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}  # fmt: skip
    settings.CACHES = {**settings.CACHES, "default": _with_copies({
        "BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{SERVICE}/0",
        "KEY_PREFIX": f"test-{uuid.uuid4().hex[:12]}", "OPTIONS": options,
    }, (CUTOFF_KEY_PREFIX,) if django_settings.LOCAL_TIER == "on" else ())}  # fmt: skip
    settings.REDIS_WAIT_REPLICAS = 1
    return sentinel_stores


@pytest.fixture(scope="session")
def running_cluster(cluster_stores, server_env):
    """Two app instances (Redis sessions, cut-off) behind nginx on the suite's database; a login
    throttle low enough to reach in a test (the cluster's Redis is emptied before each one)."""
    cluster_stores.env = {**server_env, "AUTH_THROTTLE_RATE": "10/minute"}
    try:
        yield cluster_stores.start_apps()
    finally:
        cluster_stores.stop_apps()  # before the test database is dropped


@pytest.fixture
def cluster(running_cluster, sentinel_stores, transactional_db):
    """The running cluster, every instance up, its Redis healthy and empty."""
    running_cluster.wait_recovered()
    return running_cluster


# == browser: Playwright for Python driving Debian's Chromium (tests/e2e) =====================
# Playwright's own browser download does not work here; the real browser is the distribution's.

CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# Headless, and quiet: no calls home, no updates, no sync, no QUIC, so a run touches only
# the test server. Playwright gives every launch a new, empty user-data directory.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run; every test gets its own contexts."""
    if not CHROMIUM.exists():
        need(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in this thread, and Django
    # then refuses ORM calls (SynchronousOnlyOperation). Nothing here is async: the loop only
    # talks to the browser. Playwright documents this setting for Django's test runner.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def async_to_sync_allowed():
    """Let this test drive async code with `async_to_sync`, even after a browser test.

    The loop Playwright's sync API leaves marked as running in the main thread (above) makes
    asgiref refuse ("You cannot use AsyncToSync in the same thread as an async event loop").
    The browser is idle while a non-browser test runs, so the mark is lifted for the test
    and put back after it.
    """
    browser_loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    yield
    asyncio._set_running_loop(browser_loop)


@pytest.fixture
def new_context(browser, app_server, transactional_db):
    """Open isolated browser contexts (own cookies, own storage) on the shared server."""
    contexts = []

    def _open(**options):
        context = browser.new_context(**{"base_url": app_server.url, "viewport": DESKTOP, **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh context of its own."""
    return new_context().new_page()


@pytest.fixture
def browser_login():
    """Log `page` in through a real login form, the one browser login of the suite.

    The site's form (`remember` ticks or unticks "Remember me") lands on the profile; with
    `spa=True`, the single-page client's form (POST /api/cookie/login/) shows the user as
    logged in. With `succeeds=False` (a wrong password) it only submits: the test checks
    the answer.
    """

    def _login(page, user, password: str = PASSWORD, *, remember=None, spa=False, succeeds=True) -> None:
        page.goto("/spa/" if spa else "/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password", exact=True).fill(password)
        if remember is not None:
            page.get_by_label("Remember me").set_checked(remember)
        if not spa:
            page.get_by_role("button", name="Log in").click()
            if succeeds:
                page.wait_for_url("**/accounts/profile/")
            return
        with page.expect_response("**/api/cookie/login/") as login:
            page.get_by_role("button", name="Log in with tokens").click()
        if succeeds:
            from playwright.sync_api import expect

            assert login.value.status == 200
            expect(page.locator("#spa-state")).to_have_text(f"yes, as {user.username}")

    return _login


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE_SCRIPT.exists():
        need(f"axe-core is not installed at {AXE_SCRIPT} (run `npm ci`, or `make test`)")
    return AXE_SCRIPT.read_text()


@pytest.fixture
def axe(axe_script):
    """Run axe-core in `page`; return its serious and critical violations."""

    def _run(page) -> list[dict]:
        # evaluate(), not a <script> tag, so a Content-Security-Policy cannot block it.
        page.evaluate(axe_script)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]

    return _run


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the run leaves a picture of every main page (git-ignored, not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# == end of browser block =====================================================================
