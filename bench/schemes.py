"""The schemes under test: which server, path and credential each one uses.

Every authenticated scheme calls an endpoint that does the same work once the caller is
known (the claims or the user id back as JSON), so that the difference is the
authentication: tokens on /api/dashboard/, sessions on /compare/probe/session/.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from bench.load import Target
from bench.stack import Server

USERNAME, PASSWORD = "bob", "bob-demo-pass"
SESSION_ENGINES = ("db", "redis", "cached_db", "signed_cookies")


@dataclass(frozen=True)
class Scheme:
    key: str
    label: str
    server: str  # the name of the Server that serves it
    path: str
    credential: str  # "none", "session", "bearer" or "cookie"
    expect: str  # the scheme Server-Timing must name


SCHEMES = (
    Scheme("healthz", "/healthz (no auth)", "jwt-off", "/healthz", "none", "anonymous"),
    *(
        Scheme(f"session_{e}", f"session: {e}", f"session-{e}", "/compare/probe/session/", "session", "session")
        for e in SESSION_ENGINES
    ),
    Scheme("jwt_stateless", "JWT: stateless", "jwt-off", "/api/dashboard/", "bearer", "jwt-bearer"),
    Scheme("jwt_db_user", "JWT: user from database", "jwt-off", "/api/dashboard/db/", "bearer", "jwt-bearer"),
    Scheme("jwt_cutoff", "JWT: cut-off check", "jwt-cutoff", "/api/dashboard/", "bearer", "jwt-bearer"),
    Scheme("jwt_cookie", "JWT: in a cookie", "jwt-off", "/api/dashboard/", "cookie", "jwt-cookie"),
)
BASELINE = "healthz"


def server_settings() -> dict[str, dict[str, str]]:
    """The environment that distinguishes each server process."""
    servers = {
        "jwt-off": {"SESSION_BACKEND": "db", "JWT_REVOCATION": "off"},
        "jwt-cutoff": {"SESSION_BACKEND": "db", "JWT_REVOCATION": "cutoff"},
    }
    for engine in SESSION_ENGINES:
        servers[f"session-{engine}"] = {"SESSION_BACKEND": engine, "JWT_REVOCATION": "off"}
    return servers


def session_cookie(server: Server) -> tuple[str, str]:
    """Log in through the real login form; return the session cookie's name and value."""
    client = requests.Session()
    client.get(f"{server.url}/accounts/login/", timeout=10).raise_for_status()
    form = {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]}
    client.post(f"{server.url}/accounts/login/", data=form, timeout=10, allow_redirects=False).raise_for_status()
    return "sessionid", client.cookies["sessionid"]


def access_token(server: Server) -> str:
    body = {"username": USERNAME, "password": PASSWORD}
    response = requests.post(f"{server.url}/api/token/", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["access"]


def credentials(servers: dict[str, Server], sessions: dict[str, tuple[str, str]]) -> dict[str, Target]:
    """Build every scheme's request, with access tokens fresh from each token server."""
    tokens = {name: access_token(servers[name]) for name in ("jwt-off", "jwt-cutoff")}
    targets = {}
    for scheme in SCHEMES:
        headers = {}
        if scheme.credential == "session":
            name, value = sessions[scheme.server]
            headers["Cookie"] = f"{name}={value}"
        elif scheme.credential == "bearer":
            headers["Authorization"] = f"Bearer {tokens[scheme.server]}"
        elif scheme.credential == "cookie":
            headers["Cookie"] = f"access={tokens[scheme.server]}"
        targets[scheme.key] = Target(servers[scheme.server], scheme.path, headers)
    return targets


def check(scheme: Scheme, target: Target) -> None:
    """Refuse to measure a scheme whose request is not answered 200 by that scheme."""
    response = requests.get(target.server.url + target.path, headers=target.headers, timeout=10)
    timing = response.headers.get("Server-Timing", "")
    if response.status_code != 200 or f'desc="{scheme.expect}"' not in timing:
        raise RuntimeError(f"{scheme.key}: {response.status_code}, Server-Timing {timing!r}: not {scheme.expect}")


def credential_bytes(target: Target) -> int:
    """Bytes of the credential itself: the cookie value or the token."""
    for header in ("Cookie", "Authorization"):
        if header in target.headers:
            return len(target.headers[header].split("=", 1)[1] if header == "Cookie" else target.headers[header][7:])
    return 0
