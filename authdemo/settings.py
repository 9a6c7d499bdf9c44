"""authdemo settings: one configuration, driven by the environment.

Production differs from development only by environment values; see README
"Configuration" and .env.example. An invalid value stops start-up with one line that
names the variable and its choices.
"""

from datetime import timedelta
from pathlib import Path

from accounts import vocabulary
from authdemo.env import (
    ConfigError,
    absolute_path,
    address,
    boolean,
    choice,
    database,
    drf_rate,
    email,
    host_ports,
    hosts,
    integer,
    name_of,
    origin,
    rate,
    redis_url,
    seconds,
    secret,
    site_url,
    tokens,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------
# Core: https://docs.djangoproject.com/en/5.2/ref/settings/#core-settings
# ---------------------------------------------------------------------------------------
DEBUG = boolean("DJANGO_DEBUG", default=True)
_SECRETS_FILE = BASE_DIR / ".dev-secrets.json"
SECRET_KEY = secret("DJANGO_SECRET_KEY", debug=DEBUG, store=_SECRETS_FILE, min_bytes=50)
ALLOWED_HOSTS = hosts("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# Secure cookies need HTTPS; on by default whenever debug is off.
SECURE_COOKIES = boolean("DJANGO_SECURE_COOKIES", default=not DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "accounts",  # before auth: its createsuperuser refuses look-alike usernames
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_ratelimit",
    "csp",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "devicebound",
    "crosssite",
    "corsheaders",
    "authdemo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crosssite.middleware.CorsMiddleware",  # django-cors-headers'; before any middleware that answers (preflights)
    "crosssite.middleware.SecondSiteMiddleware",  # before CommonMiddleware, which resolves in its URLconf
    "authdemo.middleware.ServerTimingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "crosssite.middleware.CrossSiteSessionCookieMiddleware",  # outside SessionMiddleware: sees the cookie it sets
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.TimedAuthenticationMiddleware",
    "devicebound.middleware.DeviceBoundSessionMiddleware",  # after the session user, before its use
    "accounts.middleware.SessionRegistryMiddleware",
    "authdemo.middleware.JWTCookieAuthenticationMiddleware",
    "authdemo.middleware.PrivateCacheMiddleware",
    "authdemo.middleware.MessageMiddleware",  # Django's, with the storage made at its first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "authdemo.content_security.CSPMiddleware",  # django-csp's, with the settings' policy built once
    "axes.middleware.AxesMiddleware",
    "accounts.middleware.AuthRateLimitMiddleware",
    "authdemo.middleware.RequestBodyLimitMiddleware",
]

ROOT_URLCONF = "authdemo.urls"
WSGI_APPLICATION = "authdemo.wsgi.application"
# The site's pages (templates/) are Jinja2 (authdemo.templating says why); the admin, DRF's
# browsable API and the API docs keep the Django templates their apps ship.
_CONTEXT_PROCESSORS = [
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "authdemo.context_processors.auth_scheme",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "authdemo.templating.environment",
            # Jinja2's backend adds `request`, `csrf_input` and `csrf_token` itself; `csrf`
            # gives the last two one mask per page, `page_urls` a url() for the page.
            "context_processors": [*_CONTEXT_PROCESSORS, "authdemo.templating.page_urls", "authdemo.templating.csrf"],
        },
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request", *_CONTEXT_PROCESSORS]},
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The site is written in English and ships no translations. Django's advice: "If you don't
# use internationalization, you should take the two seconds to set USE_I18N = False" (every
# reverse(), gettext and template tag looks up the active language otherwise). Measured
# in-process through Django's WSGI handler, as `python -m bench.middleware_cost` does: a
# third of /healthz's time (482 -> 321 µs).
USE_I18N = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------------------
# Database: https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# Persistent connections on every engine: a new PostgreSQL connection per request costs about
# 5 ms here, a new SQLite one its open plus its pragmas; a reused one nothing. No per-request
# health check (a SELECT 1 round trip on every request that touches the database): after a
# database restart, the first request of each worker thread fails with a 503 and Django
# closes the broken connection, so the next one reconnects.
# ---------------------------------------------------------------------------------------
SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
DATABASES = {"default": database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["CONN_MAX_AGE"] = integer("DATABASE_CONN_MAX_AGE", default=600)
_prepare_threshold = integer("DATABASE_PREPARE_THRESHOLD", default=5)  # PostgreSQL only (below)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 2)
    # Server-side binding with prepared statements: the queries every request makes (the
    # session row, the user) are parsed and planned once per connection instead of being sent
    # as new literal text each time (bench: a quarter of a db-session request's CPU). Django
    # turns prepared statements off by default for transaction-mode poolers (PgBouncer before
    # 1.21): behind one, set DATABASE_PREPARE_THRESHOLD=0.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#server-side-parameters-binding
    DATABASES["default"]["OPTIONS"].setdefault("server_side_binding", True)
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", _prepare_threshold or None)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Run once per connection (Django 5.1+), so once per worker thread, not per request.
    # WAL lets readers proceed while a writer commits; synchronous=NORMAL is durable in WAL
    # mode except for the last commits on power loss; IMMEDIATE takes the write lock when a
    # transaction starts, so two writers wait (busy timeout) instead of one failing with
    # "database is locked" on a lock upgrade. https://sqlite.org/wal.html
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 5)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("init_command", SQLITE_PRAGMAS)
DATABASES["default"]["TEST"] = {"NAME": name_of("TEST_DATABASE_NAME") or None}

# ---------------------------------------------------------------------------------------
# Cache: https://github.com/jazzband/django-redis#configure-as-cache-backend
# One Redis (REDIS_URL), or a primary found through Redis Sentinel (REDIS_SENTINELS and
# REDIS_SENTINEL_SERVICE): django-redis's SentinelConnectionFactory asks the Sentinels for
# the current primary; accounts.sentinel's pool follows a failover at once (idle connections
# to the old primary dropped, never read again). Reads go to the primary too, never a replica:
# a session ended or a cut-off moved must be seen by the very next request.
# Timeouts of about a second, so a dead Redis cannot hang a request.
# ---------------------------------------------------------------------------------------
REDIS_URL = redis_url("REDIS_URL")
REDIS_SENTINELS = host_ports("REDIS_SENTINELS", example="127.0.0.1:26379,127.0.0.1:26380")
REDIS_SENTINEL_SERVICE = name_of("REDIS_SENTINEL_SERVICE")
if REDIS_SENTINELS and REDIS_URL:
    raise ConfigError("REDIS_URL and REDIS_SENTINELS are both set; set one (Sentinel finds the primary itself).")
if REDIS_SENTINELS and not REDIS_SENTINEL_SERVICE:
    raise ConfigError("REDIS_SENTINELS needs REDIS_SENTINEL_SERVICE, the name the Sentinels monitor (e.g. authdemo).")
SHARED_CACHE = bool(REDIS_URL or REDIS_SENTINELS)
# Session writes and revocations wait for this many replicas (Redis WAIT) before they count,
# so a failover cannot bring back an ended session or an old cut-off. 1 with Sentinel, over
# two replicas: after any one Redis node is lost, the primary still has a replica to answer.
REDIS_WAIT_REPLICAS = integer("REDIS_WAIT_REPLICAS", default=1 if REDIS_SENTINELS else 0)
REDIS_WAIT_TIMEOUT_MS = 500


def _cache(prefix: str) -> dict:
    if not SHARED_CACHE:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    options = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
    options["CONNECTION_POOL_KWARGS"] = {"health_check_interval": 30}
    if REDIS_SENTINELS:
        options |= {"CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory", "SENTINELS": REDIS_SENTINELS,
                    "CONNECTION_POOL_CLASS": "accounts.sentinel.FollowingSentinelPool"}  # fmt: skip
    location = f"redis://{REDIS_SENTINEL_SERVICE}/0" if REDIS_SENTINELS else REDIS_URL
    return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, "KEY_PREFIX": prefix, "OPTIONS": options}


CACHES = {"default": _cache("authdemo"), "throttle": _cache("authdemo-throttle")}
# LOCAL_TIER=on adds each process's copies of the reads every request makes (copies/, set up
# under Sessions): the default cache becomes copies.redis_cache.TrackingRedisCache (the
# cut-off, and Redis sessions), invalidated by Redis (client-side caching), and database
# sessions on PostgreSQL use the engine copies.postgres_sessions, invalidated by PostgreSQL
# (LISTEN/NOTIFY). Off: Django's cache backend and session engines alone. BOUND: the longest
# a copy can be served after a change when the invalidation channel hangs silently
# (heartbeat every BOUND/4 s); MAX_AGE: any copy's lifetime.
LOCAL_TIER = choice("LOCAL_TIER", choices=("on", "off"), default="on")
LOCAL_TIER_MAX_AGE = seconds("LOCAL_TIER_MAX_AGE", default=60.0, low=0, high=24 * 3600)
LOCAL_TIER_BOUND = seconds("LOCAL_TIER_BOUND", default=1.0, low=0, high=LOCAL_TIER_MAX_AGE)

# ---------------------------------------------------------------------------------------
# Sessions: https://docs.djangoproject.com/en/5.2/topics/http/sessions/
# ---------------------------------------------------------------------------------------
SESSION_BACKEND = choice("SESSION_BACKEND", choices=vocabulary.ENGINE_KEYS, default=vocabulary.DB)
if vocabulary.session_engine(SESSION_BACKEND).needs_cache and not SHARED_CACHE:  # a per-process cache cannot be revoked
    raise ConfigError(f"SESSION_BACKEND={SESSION_BACKEND} needs REDIS_URL (redis://host:port/db) or REDIS_SENTINELS.")
SESSION_ENGINE = vocabulary.session_engine(SESSION_BACKEND).module
if LOCAL_TIER == "on" and SHARED_CACHE:  # copies of the cut-off (accounts.selectors) and Redis sessions
    _copied = ["jwt-cutoff:"] + (["django.contrib.sessions.cache"] if SESSION_BACKEND == vocabulary.REDIS else [])
    _options = {**CACHES["default"]["OPTIONS"], "COPY_PREFIXES": _copied}
    CACHES["default"] |= {"BACKEND": "copies.redis_cache.TrackingRedisCache", "OPTIONS": _options}
if LOCAL_TIER == "on" and SESSION_BACKEND == vocabulary.DB and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    SESSION_ENGINE = "copies.postgres_sessions"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 7
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_NAME = "__Host-sessionid" if SECURE_COOKIES else "sessionid"
SESSION_TOUCH_INTERVAL = 60  # seconds between last-seen writes for one session
# Device-bound sessions (devicebound): the bound cookie's lifetime. Chromium renews it when it
# expires within 120 s, so a browser signs one refresh every DBSC_COOKIE_AGE - 120 s.
DBSC_COOKIE_AGE = integer("DBSC_COOKIE_AGE", default=600, minimum=10)

# ---------------------------------------------------------------------------------------
# Authentication: https://docs.djangoproject.com/en/5.2/topics/auth/
# ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out credentials first
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "profile"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

# Password reset mail: https://docs.djangoproject.com/en/5.2/topics/email/
# EMAIL_URL (django-environ): the console in development; required with debug off.
_mail = email("EMAIL_URL", debug=DEBUG)
EMAIL_BACKEND = _mail.backend
EMAIL_HOST = _mail.host
EMAIL_PORT = _mail.port
EMAIL_HOST_USER = _mail.user
EMAIL_HOST_PASSWORD = _mail.password
EMAIL_USE_TLS = _mail.use_tls
EMAIL_USE_SSL = _mail.use_ssl
EMAIL_FILE_PATH = _mail.file_path  # filemail:// only: an absolute folder
EMAIL_TIMEOUT = _mail.timeout
# SITE_URL: the origin mailed links start with, never the request's Host; required with debug off.
SITE_URL = site_url("SITE_URL", debug=DEBUG)
DEFAULT_FROM_EMAIL = address("DEFAULT_FROM_EMAIL", default="authdemo <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = 60 * 60  # seconds a reset link stays valid (Django's default is 3 days)

# ---------------------------------------------------------------------------------------
# Security: https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# ---------------------------------------------------------------------------------------
CSRF_COOKIE_HTTPONLY = True  # pages hand the token to scripts in a <meta> tag
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_NAME = "__Host-csrftoken" if SECURE_COOKIES else "csrftoken"
CSRF_FAILURE_VIEW = "authdemo.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = boolean("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
BEHIND_PROXY = boolean("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:  # trust X-Forwarded-Proto/-For only from a proxy we were told about
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

# Content Security Policy (django-csp): no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# ---------------------------------------------------------------------------------------
# Cross-site clients (crosssite/): https://github.com/adamchainz/django-cors-headers
# The second site (Host localhost) is another site than the API (127.0.0.1) for every cookie and
# fetch rule; CORS lets that one origin, and no other, read the API's answers. Never a wildcard,
# never a reflected Origin. Credentials (cookies) cross-site only with CORS_ALLOW_CREDENTIALS=true.
# ---------------------------------------------------------------------------------------
CROSS_SITE_ORIGIN = origin("CROSS_SITE_ORIGIN", default_host="localhost")
CROSS_SITE_HOST = CROSS_SITE_ORIGIN.split("://", 1)[1].rsplit(":", 1)[0]
CROSS_SITE_API = origin("CROSS_SITE_API", default_host="127.0.0.1")  # what the backend-for-frontend calls
CORS_ALLOWED_ORIGINS = [CROSS_SITE_ORIGIN]
CORS_ALLOW_CREDENTIALS = boolean("CORS_ALLOW_CREDENTIALS", default=False)
CORS_URLS_REGEX = r"^/(api|crosssite/api)/"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "dpop", "x-csrftoken")
CORS_EXPOSE_HEADERS = ("DPoP-Nonce", "WWW-Authenticate")

# ---------------------------------------------------------------------------------------
# Brute force: https://django-axes.readthedocs.io/en/latest/4_configuration.html
# One policy for every login path (pages, admin, token and cookie login): five failures
# for one username from one address lock that pair for 15 minutes; the real user logging
# in from elsewhere is not locked out. DRF throttling is a second layer (below).
# ---------------------------------------------------------------------------------------
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.http.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False

# Per-address limits on every credential path (django-ratelimit, on the "throttle" cache):
# the login page, the admin login, the compare demo login, the token and cookie logins,
# signup and password reset (accounts.limits). Checked before a password is hashed, and
# counted per address, never per username, so nobody can lock a victim out.
# https://django-ratelimit.readthedocs.io/en/stable/settings.html
AUTH_LOGIN_RATE = rate("AUTH_LOGIN_RATE", default="20/m")  # login attempts, failed or not
AUTH_LOGIN_FAILURE_RATE = rate("AUTH_LOGIN_FAILURE_RATE", default="20/15m")  # failed logins
AUTH_SIGNUP_RATE = rate("AUTH_SIGNUP_RATE", default="10/h")  # signup form posts
AUTH_RESET_RATE = rate("AUTH_RESET_RATE", default="10/h")  # password-reset requests
AUTH_RESET_ACCOUNT_RATE = rate("AUTH_RESET_ACCOUNT_RATE", default="3/h")  # reset mails per e-mail address
RATELIMIT_USE_CACHE = "throttle"
RATELIMIT_FAIL_OPEN = True  # see accounts.limits: lockout still holds during a cache outage
if not REDIS_URL:  # one development process: its own memory is the shared cache
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# ---------------------------------------------------------------------------------------
# Static files: https://whitenoise.readthedocs.io/
# ---------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "authdemo.staticfiles.RememberingManifestStorage"  # WhiteNoise's, each URL computed once
    },
}

# ---------------------------------------------------------------------------------------
# REST framework: https://www.django-rest-framework.org/api-guide/settings/
# ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerJWTAuthentication",
        "api.authentication.CookieJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.json_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"auth": drf_rate("AUTH_THROTTLE_RATE", default="60/minute")},
}

# ---------------------------------------------------------------------------------------
# JWT: https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# ---------------------------------------------------------------------------------------
JWT_REVOCATION = choice("JWT_REVOCATION", choices=("cutoff", "off"), default="cutoff")
# HS256 signs with JWT_SIGNING_KEY; the others with the active key of JWT_KEYS_DIR (api.keys),
# published at /.well-known/jwks.json for services that verify without any secret.
# The algorithm lives in SIMPLE_JWT["ALGORITHM"] only (api.signing reads it when it signs).
_algorithm = choice("JWT_ALGORITHM", choices=("HS256", "RS256", "ES256", "EdDSA"), default="HS256")
JWT_KEYS_DIR = absolute_path("JWT_KEYS_DIR", default=None)
if _algorithm != "HS256" and not JWT_KEYS_DIR:
    raise ConfigError(f"JWT_ALGORITHM={_algorithm} needs JWT_KEYS_DIR (a directory for `manage.py jwt_keys`).")
JWKS_MAX_AGE = integer("JWKS_MAX_AGE", default=300)  # how long verifiers may cache the key set
# The signed revocation feed is re-signed at most once per this many seconds per process, whatever
# the request rate; keep it at most half the verifiers' REVOCATION_POLL (default 1 s). Capped at 5 s:
# it adds to every verifier's revocation bound, and a copy must never outlive the feed's own exp.
REVOCATION_FEED_CACHE = seconds("REVOCATION_FEED_CACHE", default=0.5, low=0, high=5)
# Bearer secrets that verifiers read the revocation feed with (comma-separated: a new one is added beside
# the old to rotate it). Unset: the feed is open in debug (with a warning) and refused with debug off.
REVOCATION_FEED_TOKENS = tokens("REVOCATION_FEED_TOKEN", min_bytes=32)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ALGORITHM": _algorithm,
    "SIGNING_KEY": secret("JWT_SIGNING_KEY", debug=DEBUG, store=_SECRETS_FILE, min_bytes=32)
    if _algorithm == "HS256"
    else "",
    "ISSUER": "authdemo",
    "AUDIENCE": "authdemo-api",
    "LEEWAY": 10,
    "USER_ID_CLAIM": "user_id",
}
# Every refresh rotates and blacklists (api.services, token families); SimpleJWT's
# ROTATE_REFRESH_TOKENS / BLACKLIST_AFTER_ROTATION are not read, and check api.E002 refuses them.
JWT_ABSOLUTE_LIFETIME = timedelta(days=7)  # no rotation keeps one login alive longer
# Refresh-token reuse interval (Auth0's name): for this long after a rotation, the token
# just rotated away answers with the family's current pair instead of revoking it, so two
# tabs or retries racing with one token do not log the user out (api.services).
JWT_REFRESH_REUSE_INTERVAL = timedelta(seconds=10)
JWT_ACCESS_COOKIE = "__Host-access" if SECURE_COOKIES else "access"
JWT_REFRESH_COOKIE = "__Secure-refresh" if SECURE_COOKIES else "refresh"  # path-scoped: no __Host-
# DPoP (RFC 9449, api.dpop): on, every proof must carry the server's nonce (DPoP-Nonce header).
DPOP_NONCE = choice("DPOP_NONCE", choices=("on", "off"), default="on")

SPECTACULAR_SETTINGS = {
    "TITLE": "authdemo API",
    "DESCRIPTION": "SimpleJWT access and refresh tokens, as Bearer header or HttpOnly cookies.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# ---------------------------------------------------------------------------------------
# Logging: https://docs.djangoproject.com/en/5.2/topics/logging/
# ---------------------------------------------------------------------------------------
# The benchmark figures /compare/ shows (written by `make bench`).
BENCH_RESULTS = absolute_path("BENCH_RESULTS", default=BASE_DIR / "bench" / "results" / "latest.json")
# The cluster's drills and throughput through nginx (written by `make drill`).
CLUSTER_RESULTS = absolute_path("CLUSTER_RESULTS", default=BASE_DIR / "bench" / "results" / "cluster.json")

LOG_LEVEL = choice("LOG_LEVEL", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"axes": {"level": "WARNING"}},  # lockouts are in the audit log
}
