"""The peers `make bench` measures beside authdemo (bench/peers/README.md): a bare Django
project (bench/peers/bare), the usual Express examples (bench/peers/express) and the FastAPI
stack many Python teams pick instead (bench/peers/fastapi)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.load import BENCH_SERVER, bench_server
from harness.stack import ROOT, Server, Stores, recreate_database

USERNAME, PASSWORD = "bob", "bob-demo-pass"
EXPRESS = ROOT / "bench" / "peers" / "express" / "server.cjs"
# Django's; express-session's (Redis, memory); the FastAPI peer's.
SESSION_COOKIES = ("sessionid", "connect.sid", "memory.sid", "session_id")
BARE = "peer-django"  # the bare project's server; "peer-django@<kind>" under another server kind


def bare_stores(stores: Stores) -> Stores:
    """The bare project's own database beside the run's; the same Redis db."""
    return Stores(f"{stores.database}_bare", stores.redis_db)


def bare_env(env: dict[str, str], stores: Stores) -> dict[str, str]:
    database = bare_stores(stores).database
    return {**env, "DJANGO_SETTINGS_MODULE": "bench.peers.bare.settings", "BARE_DATABASE_NAME": database}


def prepare_bare(env: dict[str, str], stores: Stores) -> None:
    """Create the bare project's database, migrate it and add its one user."""
    recreate_database(bare_stores(stores), prefix="authdemo_bench")
    run = [sys.executable, "-m", "django"]
    subprocess.run([*run, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=bare_env(env, stores), check=True)  # noqa: S603
    create = (
        f"from django.contrib.auth.models import User; User.objects.create_user({USERNAME!r}, password={PASSWORD!r})"
    )
    subprocess.run([*run, "shell", "-v", "0", "-c", create], cwd=ROOT, env=bare_env(env, stores), check=True)  # noqa: S603


@dataclass
class NodeServer(Server):
    """The Express peer: one node process (no gunicorn)."""

    ready_path: str = "/ping"

    def start(self) -> NodeServer:
        node = shutil.which("node")
        if node is None:
            raise SystemExit("bench: node is missing; install Debian's nodejs and npm, then `npm ci`.")
        env = {**self.env, "PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                [node, str(EXPRESS)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def worker_pids(self) -> list[int]:
        return [self.process.pid]


@dataclass
class UvicornServer(Server):
    """The FastAPI peer on uvicorn, as `fastapi run` serves it: one process, no reload; the access
    log off. uvicorn picks uvloop and httptools, which `fastapi[standard]` installs."""

    app: str = "bench.peers.fastapi.counted:application"
    ready_path: str = "/ping"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "1", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    def worker_pids(self) -> list[int]:
        return [self.process.pid]


def bare_server(env: dict[str, str], stores: Stores, logs: Path, *, kind: str = BENCH_SERVER) -> Server:
    """The bare project on `kind`'s server, with the settings of authdemo's servers (one process),
    so that the ratio between them is the code's, not the server's. On the benchmark's own kind it
    is named BARE; on another, `BARE@kind`."""
    name = BARE if kind == BENCH_SERVER else f"{BARE}@{kind}"
    app = "bench.peers.bare.wsgi:application"
    return bench_server(name, bare_env(env, stores), logs / f"{name}.log", kind=kind, app=app, ready_path="/ping")


def peer_servers(env: dict[str, str], stores: Stores, logs: Path) -> dict[str, Server]:
    """The peers, configured as bench/peers/README.md says, not yet started: the bare project on the
    benchmark's server kind, the Express examples in one node process, FastAPI on uvicorn."""
    express_env = {**env, "SESSION_SECRET": env["DJANGO_SECRET_KEY"], "JWT_SECRET": env["JWT_SIGNING_KEY"]}
    return {
        BARE: bare_server(env, stores, logs),
        "peer-express": NodeServer("peer-express", express_env, logs / "peer-express.log"),
        "peer-fastapi": UvicornServer("peer-fastapi", {**env, "JWT_SECRET": env["JWT_SIGNING_KEY"]},
                                      logs / "peer-fastapi.log"),
    }  # fmt: skip


def browser_cookies(server: Server, login_path: str) -> dict[str, str]:
    """Log in to a peer; return every cookie it left in the browser (its session cookie among them).

    All of them, as for authdemo (bench.schemes.browser_cookies): the bare Django peer's
    login also sets the CSRF cookie, which a browser sends back with every request.
    """
    client = requests.Session()
    if server.name.startswith(BARE):
        body = {"username": USERNAME, "password": PASSWORD}
        client.post(f"{server.url}{login_path}", json=body, timeout=10).raise_for_status()
    else:
        client.get(f"{server.url}{login_path}", timeout=10).raise_for_status()
    return dict(client.cookies.items())


def access_token(server: Server) -> str:
    """A peer's token: SimpleJWT's pair view for Django, `POST /token` for FastAPI, `POST /login` for Express."""
    if server.name.startswith(BARE):
        body = {"username": USERNAME, "password": PASSWORD}
        response = requests.post(f"{server.url}/api/token/", json=body, timeout=10)
        response.raise_for_status()
        return response.json()["access"]
    path = "/token" if isinstance(server, UvicornServer) else "/login"
    response = requests.post(f"{server.url}{path}", timeout=10)
    response.raise_for_status()
    return response.json()["token"]
