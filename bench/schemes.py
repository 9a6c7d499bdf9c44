"""The schemes under test: which server, path and credential each one uses.

Every authenticated scheme calls an endpoint that does the same work once the caller is
known (the claims or the user id back as JSON), so that the difference is the
authentication: tokens on /api/dashboard/, sessions on /compare/probe/session/.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import requests

from accounts import vocabulary
from authdemo import measured
from bench import peers
from bench.load import Target
from harness.logins import log_in
from harness.stack import Server

USERNAME, PASSWORD = "bob", "bob-demo-pass"
SESSION_PROBE = "/compare/probe/session/"
# How each row of the comparison is measured: (server, path, credential). The server is the
# name of the Server process that serves it; the credential "none", "session", "bearer", "cookie" or "raw".
MEASURED_BY = {
    measured.BASELINE: ("jwt-off", "/healthz", "none"),
    **{measured.session_scheme_key(e): (f"session-{e}", SESSION_PROBE, "session") for e in vocabulary.ENGINE_KEYS},
    measured.JWT_STATELESS: ("jwt-off", "/api/dashboard/", "bearer"),
    measured.JWT_DB_USER: ("jwt-off", "/api/dashboard/db/", "bearer"),
    measured.JWT_CUTOFF: ("jwt-cutoff", "/api/dashboard/", "bearer"),
    measured.JWT_COOKIE: ("jwt-off", "/api/dashboard/", "cookie"),
    measured.PAGE_PROFILE: ("session-db", "/accounts/profile/", "session"),
    measured.PAGE_PROFILE_REDIS: ("session-redis", "/accounts/profile/", "session"),  # the local tier's copy
    # The peers: (server, path, credential, where a session starts).
    "peer_django_ping": ("peer-django", "/ping", "none"),
    "peer_django_jwt": ("peer-django", "/api/dashboard/", "bearer"),
    "peer_django_session": ("peer-django", "/api/session/", "session", "/login/"),
    "peer_fastapi_ping": ("peer-fastapi", "/ping", "none"),
    "peer_fastapi_jwt": ("peer-fastapi", "/dashboard", "bearer"),
    "peer_fastapi_session": ("peer-fastapi", "/profile", "session", "/login"),
    "peer_express_ping": ("peer-express", "/ping", "none"),
    "peer_express_session": ("peer-express", "/profile", "session", "/login"),
    "peer_express_session_memory": ("peer-express", "/memory/profile", "session", "/memory/login"),
    "peer_express_jwt": ("peer-express", "/dashboard", "raw"),
    "peer_express_jwt_key": ("peer-express", "/dashboard-key", "raw"),
}


@dataclass(frozen=True)
class Scheme:
    key: str
    label: str
    via: str  # the scheme Server-Timing must name
    server: str
    path: str
    credential: str  # "none", "session", "bearer", "cookie" or "raw" (the Express example's bare header)
    login_path: str = ""  # where a peer starts a session

    @property
    def peer(self) -> bool:
        return self.server.startswith("peer-")


SCHEMES = tuple(Scheme(s.key, s.label, s.via, *MEASURED_BY[s.key]) for s in measured.SCHEMES)
PEER_SCHEMES = tuple(Scheme(s.key, s.label, s.via, *MEASURED_BY[s.key]) for s in measured.PEER_SCHEMES)
ALL_SCHEMES = SCHEMES + PEER_SCHEMES

# What is measured under the server kinds the benchmark's was chosen over (bench.load.OTHER_SERVERS),
# in the same rounds: the baseline, the token schemes (no session store between them and the server),
# and the bare Django ping, so "/healthz against the bare ping" is also read like for like there.
ON_EVERY_SERVER = (
    measured.BASELINE, measured.JWT_STATELESS, measured.JWT_DB_USER, measured.JWT_CUTOFF, measured.JWT_COOKIE,
    measured.PEER_DJANGO_PING,
)  # fmt: skip


def on_server(scheme: Scheme, kind: str) -> Scheme:
    """The same scheme served by another kind of server: key and server name `<its own>@<kind>`."""
    return replace(scheme, key=f"{scheme.key}@{kind}", server=f"{scheme.server}@{kind}")


def on_other_servers(kinds: tuple[str, ...], keys: tuple[str, ...] = ON_EVERY_SERVER) -> tuple[Scheme, ...]:
    by_key = {scheme.key: scheme for scheme in ALL_SCHEMES}
    return tuple(on_server(by_key[key], kind) for kind in kinds for key in keys)


def server_settings() -> dict[str, dict[str, str]]:
    """The environment that distinguishes each server process."""
    servers = {
        "jwt-off": {"SESSION_BACKEND": "db", "JWT_REVOCATION": "off"},
        "jwt-cutoff": {"SESSION_BACKEND": "db", "JWT_REVOCATION": "cutoff"},
    }
    for engine in vocabulary.ENGINE_KEYS:
        servers[f"session-{engine}"] = {"SESSION_BACKEND": engine, "JWT_REVOCATION": "off"}
    return servers


def session_cookie(server: Server) -> tuple[str, str]:
    """Log in through the real login form; return the session cookie's name and value."""
    return "sessionid", browser_cookies(server)["sessionid"]


def browser_cookies(server: Server) -> dict[str, str]:
    """Log in through the real login form; return every cookie the browser then holds.

    The CSRF cookie too: a browser sends it back with every request, so a page that shows
    a form only masks the secret it carries, instead of making a new one (and a
    Set-Cookie) on every request as it must for a client without it.
    """
    return dict(log_in(server.url, USERNAME, PASSWORD).cookies.items())


def access_token(server: Server) -> str:
    body = {"username": USERNAME, "password": PASSWORD}
    response = requests.post(f"{server.url}/api/token/", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["access"]


def session_cookies(schemes, servers: dict[str, Server]) -> dict[str, dict[str, str]]:
    """A fresh session for every session scheme: authdemo's login form, or the peer's login."""
    return {
        scheme.key: peers.browser_cookies(servers[scheme.server], scheme.login_path)
        if scheme.peer
        else browser_cookies(servers[scheme.server])
        for scheme in schemes
        if scheme.credential == "session"
    }


def credentials(schemes, servers: dict[str, Server], sessions: dict[str, dict[str, str]]) -> dict[str, Target]:
    """Build every scheme's request, with access tokens fresh from each token server."""
    token_servers = {scheme.server for scheme in schemes if scheme.credential in ("bearer", "cookie", "raw")}
    tokens = {
        name: peers.access_token(servers[name]) if name.startswith("peer-") else access_token(servers[name])
        for name in token_servers
    }
    targets = {}
    for scheme in schemes:
        headers, credential = {}, ""
        if scheme.credential == "session":
            cookies = sessions[scheme.key]
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
            credential = next(value for name, value in cookies.items() if name in peers.SESSION_COOKIES)
        elif scheme.credential in ("bearer", "raw", "cookie"):
            credential = tokens[scheme.server]
            if scheme.credential == "bearer":
                headers["Authorization"] = f"Bearer {credential}"
            elif scheme.credential == "raw":
                headers["Authorization"] = credential
            else:
                headers["Cookie"] = f"access={credential}"
        targets[scheme.key] = Target(servers[scheme.server], scheme.path, headers, credential)
    return targets


def check(scheme: Scheme, target: Target) -> None:
    """Refuse to measure a scheme whose request is not answered 200 by that scheme."""
    response = requests.get(target.server.url + target.path, headers=target.headers, timeout=10)
    timing = response.headers.get("Server-Timing", "")
    if scheme.peer:
        if response.status_code != 200:
            raise RuntimeError(f"{scheme.key}: {response.status_code}")
    elif response.status_code != 200 or f'desc="{scheme.via}"' not in timing:
        raise RuntimeError(f"{scheme.key}: {response.status_code}, Server-Timing {timing!r}: not {scheme.via}")


def credential_bytes(target: Target) -> int:
    """Bytes of the credential itself: the session cookie's value or the token."""
    return len(target.credential)
