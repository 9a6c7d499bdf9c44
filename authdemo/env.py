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
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

NAME_FORMAT = re.compile(r"^[A-Za-z0-9_.-]+$")
HOST_FORMAT = re.compile(r"^(\*|\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])$")


class ConfigError(ImproperlyConfigured):
    """A configuration value is missing or invalid; the message names the variable."""


def choice(name: str, *, choices: tuple[str, ...], default: str) -> str:
    """Return the variable's value, or stop start-up naming the allowed choices."""
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}.")
    return value


def integer(name: str, *, default: int, minimum: int = 0) -> int:
    """Return a whole number of at least `minimum`, or stop start-up saying so."""
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name}={raw!r} is not valid; give a whole number from {minimum}.")
    return int(raw)


def host_ports(name: str, *, example: str) -> list[tuple[str, int]]:
    """Return a comma-separated list of host:port pairs, or stop start-up showing the form."""
    raw = os.environ.get(name, "").strip()
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
    value = os.environ.get(name, "").strip() or default
    if not RATE_FORMAT.match(value):
        raise ConfigError(
            f"{name}={value!r} is not valid; write count/period with s, m, h or d, for example 20/m or 30/15m."
        )
    return value


@dataclass(frozen=True)
class Mail:
    """Django's EMAIL_* settings, each under its own name (Django's defaults where a URL says nothing)."""

    backend: str
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    file_path: str | None = None
    timeout: float | None = None


def email(name: str, *, debug: bool) -> Mail:
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
    try:
        config = environ.Env.email_url_config(value)
    except ValueError:  # a port that is not a number
        raise ConfigError(f"{name} is not valid; give a URL like smtp+tls://user:pw@mail.example.com:587.") from None
    return Mail(
        backend=config["EMAIL_BACKEND"],
        host=config["EMAIL_HOST"] or Mail.host,
        port=config["EMAIL_PORT"] or Mail.port,
        user=config["EMAIL_HOST_USER"] or "",
        password=config["EMAIL_HOST_PASSWORD"] or "",
        use_tls=config.get("EMAIL_USE_TLS", False),
        use_ssl=config.get("EMAIL_USE_SSL", False),
        file_path=_mail_folder(name, value) if scheme == "filemail" else None,
        timeout=config.get("OPTIONS", {}).get("TIMEOUT"),
    )


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
    return _origin(name, value)


def _origin(name: str, value: str) -> str:
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


def origin(name: str, *, default_host: str) -> str:
    """Return an origin (scheme://host[:port]); unset, http://`default_host`:$PORT, where `make run` serves."""
    value = os.environ.get(name, "").strip()
    if not value:
        port = os.environ.get("PORT", "").strip()
        return f"http://{default_host}:{port if port.isdigit() and 0 < int(port) < 65536 else 8000}"
    return _origin(name, value)


def hosts(name: str, *, default: list[str]) -> list[str]:
    """Return a comma-separated list of host names for ALLOWED_HOSTS, or stop start-up showing the form."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if not names or not all(HOST_FORMAT.match(host) for host in names):
        raise ConfigError(
            f"{name}={raw!r} is not valid; give host names separated by commas, like authdemo.example.com,.example.org."
        )
    return names


def database(name: str, *, default: str) -> dict:
    """Return Django's DATABASES entry from a URL such as postgres://user:password@host:5432/name.

    The value is never echoed in an error, since it may hold a password.
    """
    value = os.environ.get(name, "").strip() or default
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in environ.Env.DB_SCHEMES:
        raise ConfigError(
            f"{name} is not valid; give a URL like postgres://user:password@host:5432/name or sqlite:///path."
        )
    try:
        return environ.Env.db_url_config(value)
    except ValueError:  # a port that is not a number
        raise ConfigError(f"{name} is not valid; its port is not a number.") from None


def redis_url(name: str) -> str:
    """Return a Redis URL (redis://, rediss:// or unix://), or "" when unset; never echoed (it may hold a password)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    try:
        valid = parts.scheme in ("redis", "rediss") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        valid = False
    if not valid and not (parts.scheme == "unix" and parts.path.startswith("/")):
        raise ConfigError(
            f"{name} is not valid; give a URL like redis://127.0.0.1:6379/0 (or rediss://, unix:///path)."
        )
    return value


def name_of(name: str, *, default: str = "") -> str:
    """Return a plain name (letters, digits, '_', '.', '-'), or stop start-up saying so."""
    value = os.environ.get(name, "").strip() or default
    if value and not NAME_FORMAT.match(value):
        raise ConfigError(f"{name}={value!r} is not valid; give a name of letters, digits, '_', '.' or '-'.")
    return value


def address(name: str, *, default: str) -> str:
    """Return a mail address, optionally with a display name ("authdemo <noreply@example.com>")."""
    value = os.environ.get(name, "").strip() or default
    _, addr = parseaddr(value)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr:
        raise ConfigError(f"{name}={value!r} is not valid; give a mail address like authdemo <noreply@example.com>.")
    return value


DRF_RATE_FORMAT = re.compile(r"^[1-9]\d*/(s|sec|second|m|min|minute|h|hour|d|day)$")


def drf_rate(name: str, *, default: str) -> str:
    """Return a DRF throttle rate ("60/minute"), or stop start-up explaining the form."""
    value = os.environ.get(name, "").strip() or default
    if not DRF_RATE_FORMAT.match(value):
        raise ConfigError(
            f"{name}={value!r} is not valid; write count/period (second, minute, hour or day), e.g. 60/minute."
        )
    return value


def absolute_path(name: str, *, default: Path | None) -> Path | None:
    """Return an absolute path (a relative one would depend on the working directory), or the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.startswith("/"):
        raise ConfigError(f"{name}={raw!r} is not valid; give an absolute path, like /var/lib/authdemo/{name.lower()}.")
    return Path(raw)


def tokens(name: str, *, min_bytes: int = 32) -> list[str]:
    """Return comma-separated bearer tokens, each of `min_bytes`+ printable ASCII bytes; never echoed."""
    raw = os.environ.get(name, "").strip()
    found = [token.strip() for token in raw.split(",")] if raw else []
    if any(len(t) < min_bytes or not (t.isascii() and t.isprintable()) or " " in t for t in found):
        raise ConfigError(f"{name} is not valid; give tokens of {min_bytes}+ printable ASCII bytes, comma-separated.")
    return found
