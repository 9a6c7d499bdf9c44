"""Configuration from the environment: bad values stop start-up in one line; deploy checks pass."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k" * 20 + "production-secret-key-for-the-deploy-check-0123456789",
    "JWT_SIGNING_KEY": "j" * 48,
    "DJANGO_ALLOWED_HOSTS": "authdemo.example.com",
    "EMAIL_URL": "smtp+tls://authdemo:mail-password@mail.example.com:587",
    "SITE_URL": "https://authdemo.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SESSION_", "JWT_"))}
    clean["DJANGO_SETTINGS_MODULE"] = "authdemo.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SESSION_BACKEND": "memcached"}, "SESSION_BACKEND='memcached' is not valid; choose one of: db, redis"),
        ({"SESSION_BACKEND": "redis", "REDIS_URL": ""}, "SESSION_BACKEND=redis needs REDIS_URL"),
        ({"SESSION_BACKEND": "cached_db", "REDIS_URL": ""}, "SESSION_BACKEND=cached_db needs REDIS_URL"),
        ({"REDIS_SENTINELS": "sentinel-one", "REDIS_URL": ""}, "REDIS_SENTINELS='sentinel-one' is not valid"),
        ({"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_URL": ""}, "REDIS_SENTINELS needs REDIS_SENTINEL_SERVICE"),
        (
            {"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_SERVICE": "authdemo", "REDIS_URL": "redis://x:1/0"},
            "REDIS_URL and REDIS_SENTINELS are both set",
        ),
        ({"REDIS_WAIT_REPLICAS": "one"}, "REDIS_WAIT_REPLICAS='one' is not valid; give a whole number from 0"),
        ({"JWT_REVOCATION": "sometimes"}, "JWT_REVOCATION='sometimes' is not valid; choose one of: cutoff, off"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not valid; choose one of: true, false"),
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off"),
        ({**PRODUCTION, "JWT_SIGNING_KEY": "short"}, "JWT_SIGNING_KEY is too short"),
        ({"AUTH_LOGIN_RATE": "lots"}, "AUTH_LOGIN_RATE='lots' is not valid; write count/period"),
        ({**PRODUCTION, "EMAIL_URL": ""}, "EMAIL_URL must be set when DJANGO_DEBUG is off"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL has an unknown scheme; choose one of: smtp, smtps"),
        ({"EMAIL_URL": "filemail://tmp/mails"}, "EMAIL_URL must name an absolute folder for filemail://"),
        ({"EMAIL_URL": "filemail://"}, "EMAIL_URL must name an absolute folder for filemail://"),
        ({**PRODUCTION, "SITE_URL": ""}, "SITE_URL must be set when DJANGO_DEBUG is off"),
        ({"SITE_URL": "authdemo.example.com"}, "SITE_URL='authdemo.example.com' is not valid; give an origin"),
        ({"SITE_URL": "ftp://authdemo.example.com"}, "SITE_URL='ftp://authdemo.example.com' is not valid"),
        ({"SITE_URL": "https://authdemo.example.com/app"}, "SITE_URL='https://authdemo.example.com/app' is not valid"),
        ({"SITE_URL": "https://authdemo.example.com:99999"}, "SITE_URL='https://authdemo.example.com:99999' is not"),
        ({"SITE_URL": "https://user:pw@authdemo.example.com"}, "is not valid; give an origin"),
        ({"REVOCATION_FEED_CACHE": "120"}, "REVOCATION_FEED_CACHE='120' is not valid; give seconds above 0 and at"),
    ],
)
def test_bad_configuration_stops_startup_in_one_line(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def settings_variables() -> set[str]:
    """The variables the settings read: the first argument of each call to a helper of authdemo.env
    in settings.py, and the variables env.py names itself (PORT, for the development SITE_URL)."""
    tree = ast.parse((ROOT / "authdemo" / "settings.py").read_text())
    helpers = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "authdemo.env"
        for alias in node.names
    } - {"ConfigError"}
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    read = {call.args[0].value for call in calls if call.func.id in helpers and isinstance(call.args[0], ast.Constant)}
    own = re.findall(r"os\.environ\.get\(\"([A-Z0-9_]+)\"", (ROOT / "authdemo" / "env.py").read_text())
    return read | set(own)


# One bad value for every variable the settings read (PORT is the Makefile's: a bad one is ignored).
BAD_VALUES = {
    "DJANGO_DEBUG": "maybe",
    "DJANGO_SECRET_KEY": "short",
    "DJANGO_ALLOWED_HOSTS": "https://authdemo.example.com",
    "DJANGO_SECURE_COOKIES": "maybe",
    "DJANGO_SECURE_SSL_REDIRECT": "maybe",
    "DJANGO_BEHIND_PROXY": "maybe",
    "DATABASE_URL": "authdemo-db",
    "DATABASE_CONN_MAX_AGE": "forever",
    "DATABASE_PREPARE_THRESHOLD": "-1",
    "TEST_DATABASE_NAME": "test db",
    "REDIS_URL": "127.0.0.1:6379",
    "REDIS_SENTINELS": "sentinel-one",
    "REDIS_SENTINEL_SERVICE": "auth demo",
    "REDIS_WAIT_REPLICAS": "one",
    "LOCAL_TIER": "sometimes",
    "LOCAL_TIER_MAX_AGE": "a minute",
    "LOCAL_TIER_BOUND": "a second",
    "SESSION_BACKEND": "memcached",
    "DBSC_COOKIE_AGE": "5",
    "DPOP_NONCE": "sometimes",
    "EMAIL_URL": "pigeon://coop",
    "SITE_URL": "authdemo.example.com",
    "CROSS_SITE_ORIGIN": "localhost:8000",
    "CROSS_SITE_API": "http://127.0.0.1:8000/api/",
    "CORS_ALLOW_CREDENTIALS": "maybe",
    "DEFAULT_FROM_EMAIL": "nobody",
    "AUTH_LOGIN_RATE": "lots",
    "AUTH_LOGIN_FAILURE_RATE": "lots",
    "AUTH_SIGNUP_RATE": "lots",
    "AUTH_RESET_RATE": "lots",
    "AUTH_RESET_ACCOUNT_RATE": "lots",
    "AUTH_THROTTLE_RATE": "lots",
    "JWT_REVOCATION": "sometimes",
    "JWT_ALGORITHM": "none",
    "JWT_KEYS_DIR": "keys",
    "JWT_SIGNING_KEY": "short",
    "JWKS_MAX_AGE": "abc",
    "REVOCATION_FEED_CACHE": "abc",
    "REVOCATION_FEED_TOKEN": "short",
    "BENCH_RESULTS": "latest.json",
    "CLUSTER_RESULTS": "cluster.json",
    "LOG_LEVEL": "loud",
}


def test_bad_values_cover_every_variable_the_settings_read():
    assert set(BAD_VALUES) == settings_variables() - {"PORT"}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_value_of_any_variable_stops_startup_naming_it(name):
    result = manage("check", **{name: BAD_VALUES[name]})

    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert lines == [lines[-1]], result.stderr  # one line, no traceback
    assert lines[-1].startswith(f"authdemo: configuration error: {name}")
    assert re.search(r"choose one of|give|write|needs", lines[-1])  # the choices or the form expected


def test_settings_read_the_environment_only_through_the_helpers():
    tree = ast.parse((ROOT / "authdemo" / "settings.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"os", "environ"}


def env_example_variables() -> list[str]:
    return re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)


def test_env_example_lists_exactly_the_variables_the_settings_read():
    listed = env_example_variables()
    assert len(listed) == len(set(listed))
    assert set(listed) == settings_variables()


def test_env_example_explains_every_variable_in_a_comment():
    text = (ROOT / ".env.example").read_text()
    lines = [line for line in text.splitlines() if re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", line)]
    assert lines and all(re.search(r"=.*\s# \S", line) for line in lines), lines


def test_accounts_and_api_never_import_authdemo():
    upward = []
    for path in [*(ROOT / "accounts").rglob("*.py"), *(ROOT / "api").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            upward += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "authdemo"]
    assert upward == []


def test_email_settings_are_spelled_out_from_the_url():
    show = (
        "from django.conf import settings as s; print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)"
    )

    result = manage("shell", "-c", show, EMAIL_URL="smtp+tls://authdemo:pw@mail.example.com:587")

    assert result.stdout.splitlines()[-1] == "mail.example.com 587 authdemo True"


def test_server_start_runs_the_system_checks_and_stops_in_one_line(tmp_path):
    # The environment cannot put the redis engine on a non-Redis cache (REDIS_URL is required);
    # a settings module that copies ours and changes the cache can, as a copier's might.
    (tmp_path / "copied_settings.py").write_text(
        "from authdemo.settings import *  # noqa\n"
        "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}\n"
        "SESSION_ENGINE = 'accounts.session_engines.redis'\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "copied_settings", "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-c", "import authdemo.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "(accounts.E001) SESSION_ENGINE 'accounts.session_engines.redis' needs a django-redis cache" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_is_for_the_makefile_not_django():
    result = manage("check", PORT="not-a-port")  # make run / make serve read PORT themselves
    assert result.returncode == 0, result.stderr


def test_filemail_url_names_an_absolute_folder(tmp_path):
    folder, elsewhere = tmp_path / "mails", tmp_path / "cwd"
    elsewhere.mkdir()
    send = "from django.core.mail import send_mail; send_mail('s', 'b', 'a@example.com', ['b@example.com'])"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "authdemo.settings", "EMAIL_URL": f"filemail://{folder}"}

    result = subprocess.run(
        [sys.executable, ROOT / "manage.py", "shell", "-c", send], cwd=elsewhere, env=env, capture_output=True
    )

    assert result.returncode == 0, result.stderr
    assert len(list(folder.iterdir())) == 1
    assert list(elsewhere.iterdir()) == []  # not under the working directory


def test_site_url_defaults_to_the_development_server():
    show = "from django.conf import settings; print(settings.SITE_URL)"

    assert manage("shell", "-c", show, PORT="8123").stdout.splitlines()[-1] == "http://127.0.0.1:8123"


def test_site_url_is_kept_as_an_origin():
    show = "from django.conf import settings; print(settings.SITE_URL)"

    result = manage("shell", "-c", show, SITE_URL="https://a.example.com:8443/")

    assert result.stdout.splitlines()[-1] == "https://a.example.com:8443"


def test_check_deploy_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_cookies_are_secure_with_host_prefix():
    result = manage(
        "shell", "-c",
        "from django.conf import settings as s; print(s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_NAME, s.JWT_ACCESS_COOKIE, s.JWT_REFRESH_COOKIE)",
        **PRODUCTION,
    )  # fmt: skip
    assert result.stdout.strip().splitlines()[-1].split() == [
        "__Host-sessionid",
        "True",
        "__Host-csrftoken",
        "__Host-access",
        "__Secure-refresh",
    ]


def test_seed_demo_refuses_with_debug_off():
    result = manage("seed_demo", **PRODUCTION)
    assert result.returncode != 0
    assert "Refusing to create demo users" in result.stderr


def test_seed_demo_creates_the_documented_users(db):
    from django.core.management import call_command

    from accounts.models import User

    call_command("seed_demo", force=True)  # tests run with debug off
    alice = User.objects.get(username="alice")
    assert alice.display_name == "Alice" and alice.check_password("alice-demo-pass")
    assert User.objects.get(username="admin").is_superuser


def test_dev_secret_is_generated_once_into_a_private_file(tmp_path):
    from authdemo.env import secret

    store = tmp_path / "secrets.json"
    first = secret("SOME_TEST_SECRET", debug=True, store=store)
    assert secret("SOME_TEST_SECRET", debug=True, store=store) == first
    assert len(first) >= 50
    assert store.stat().st_mode & 0o077 == 0


def test_dev_venv_is_rebuilt_when_any_included_requirements_file_changes():
    """`make dev-venv` reinstalls when a file that requirements-dev.txt includes (`-r`) changes."""
    database = subprocess.run(["make", "-pnq", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True)
    rule = next(line for line in database.stdout.splitlines() if line.startswith("/nonexistent/venv/.dev:"))
    prerequisites = rule.split(":", 1)[1].split("|")[0].split()
    included = [line.split()[1] for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                if line.startswith("-r ")]  # fmt: skip
    assert set(included) | {"requirements-dev.txt"} <= set(prerequisites)


def test_each_knob_is_set_in_one_place():
    from django.conf import settings

    # SESSION_ENGINE (from accounts.vocabulary), SESSION_COOKIE_SECURE/SECURE_COOKIES and
    # SIMPLE_JWT["ALGORITHM"] are the only spellings; no copy can drift from them.
    assert [name for name in ("SESSION_ENGINES", "JWT_COOKIE_SECURE", "JWT_ALGORITHM") if hasattr(settings, name)] == []
