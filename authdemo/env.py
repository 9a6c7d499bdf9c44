"""Read configuration from the environment, failing early with a one-line message.

Settings call these helpers; nothing here imports Django settings, so it is safe to
use while settings are being built.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


class ConfigError(ImproperlyConfigured):
    """A configuration value is missing or invalid; the message names the variable."""


def choice(name: str, *, choices: tuple[str, ...], default: str) -> str:
    """Return the variable's value, or stop start-up naming the allowed choices."""
    value = env.str(name, default=default).strip()
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}.")
    return value


def integer(name: str, *, default: int, minimum: int = 0) -> int:
    """Return a whole number of at least `minimum`, or stop start-up saying so."""
    raw = env.str(name, default=str(default)).strip()
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name}={raw!r} is not valid; give a whole number from {minimum}.")
    return int(raw)


def host_ports(name: str, *, example: str) -> list[tuple[str, int]]:
    """Return a comma-separated list of host:port pairs, or stop start-up showing the form."""
    raw = env.str(name, default="").strip()
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}={raw!r} is not valid; give host:port pairs separated by commas, like {example}.")
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def boolean(name: str, *, default: bool) -> bool:
    """Return a true/false variable, refusing anything that is not clearly one of them."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not valid; choose one of: true, false.")


def seconds(name: str, *, default: float, low: float, high: float) -> float:
    """Return a duration in seconds within (low, high], or stop start-up saying so."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = math.nan
    if not low < value <= high:  # NaN fails too
        raise ConfigError(f"{name}={raw!r} is not valid; give seconds above {low:g} and at most {high:g}.")
    return value


def secret(name: str, *, debug: bool, store: Path, min_bytes: int = 32) -> str:
    """Return a secret from the environment.

    In development (debug on) a missing secret is generated once and kept in ``store``,
    a git-ignored file readable only by its owner, so `make run` needs no set-up. With
    debug off a missing or short secret stops start-up: production never falls back to
    a generated or literal value.
    """
    value = os.environ.get(name, "")
    if not value:
        if not debug:
            raise ConfigError(f"{name} must be set when DJANGO_DEBUG is off (at least {min_bytes} bytes).")
        value = _stored_secret(name, store)
    if len(value.encode()) < min_bytes:
        raise ConfigError(f"{name} is too short: it needs at least {min_bytes} bytes ({min_bytes * 8} bits).")
    return value


def _stored_secret(name: str, store: Path) -> str:
    stored = json.loads(store.read_text()) if store.exists() else {}
    if name not in stored:
        stored[name] = secrets.token_urlsafe(48)
        store.touch(mode=0o600)
        store.write_text(json.dumps(stored, indent=2))
    return stored[name]


RATE_FORMAT = re.compile(r"^[1-9]\d*/\d*[smhd]$")


def rate(name: str, *, default: str) -> str:
    """Return a django-ratelimit rate ("20/m", "30/15m"), or stop start-up explaining the form."""
    value = env.str(name, default=default).strip()
    if not RATE_FORMAT.match(value):
        raise ConfigError(
            f"{name}={value!r} is not valid; write count/period with s, m, h or d, for example 20/m or 30/15m."
        )
    return value


def email(name: str, *, debug: bool) -> dict:
    """Return Django's EMAIL_* settings from a URL such as smtp+tls://user:password@host:587.

    In development a missing URL prints mails to the console. With debug off it must be
    set: printed mails would put password-reset links in the server log. The value is
    never echoed in an error, since it may hold a password.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        if not debug:
            raise ConfigError(
                f"{name} must be set when DJANGO_DEBUG is off, for example smtp+tls://user:password@mail.example.com:587."
            )
        value = "consolemail://"
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in environ.Env.EMAIL_SCHEMES:
        raise ConfigError(f"{name} has an unknown scheme; choose one of: {', '.join(environ.Env.EMAIL_SCHEMES)}.")
    config = environ.Env.email_url_config(value)
    if scheme == "filemail":
        config["EMAIL_FILE_PATH"] = _mail_folder(name, value)
    return config


def _mail_folder(name: str, value: str) -> str:
    # django-environ drops the path's leading slash, so filemail:///var/mail would mean
    # var/mail under the working directory: mails with live reset links in the checkout.
    parts = urlsplit(value)
    path = unquote(parts.path.split("?", 1)[0])
    if parts.netloc or not path.startswith("/") or path == "/":
        raise ConfigError(
            f"{name} must name an absolute folder for filemail://, for example filemail:///var/mail/authdemo."
        )
    return path


def site_url(name: str, *, debug: bool) -> str:
    """Return the origin (scheme://host[:port]) that links in mails start with.

    Mailed links never come from the request: its Host header is the client's to choose
    (any port on an allowed name passes ALLOWED_HOSTS). In development a missing value is
    http://127.0.0.1:$PORT, where `make run` serves; with debug off it must be set.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        if not debug:
            raise ConfigError(f"{name} must be set when DJANGO_DEBUG is off, for example https://authdemo.example.com.")
        port = os.environ.get("PORT", "").strip()  # make run's; Django itself does not need it
        return f"http://127.0.0.1:{port if port.isdigit() and 0 < int(port) < 65536 else 8000}"
    parts = urlsplit(value)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        valid = False
    if not valid or parts.username or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"{name}={value!r} is not valid; give an origin without a path, like https://authdemo.example.com:8443."
        )
    return f"{parts.scheme}://{parts.netloc}"
