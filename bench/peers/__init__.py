"""The peers `make bench` measures beside authdemo (bench/peers/README.md): a bare Django
project (bench/peers/bare) and the usual Express examples (bench/peers/express)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.load import BENCH_WORKER_CLASS
from harness.stack import ROOT, Server, Stores, recreate_database

USERNAME, PASSWORD = "bob", "bob-demo-pass"
EXPRESS = ROOT / "bench" / "peers" / "express" / "server.cjs"
SESSION_COOKIES = ("sessionid", "connect.sid", "memory.sid")  # Django's; express-session's (Redis, memory)


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


def peer_servers(env: dict[str, str], stores: Stores, logs: Path) -> dict[str, Server]:
    """The two peers, configured as bench/peers/README.md says, not yet started.

    The bare project runs under the same gunicorn settings as authdemo's servers (one sync worker),
    so that the ratio between them is the code's, not the worker class's.
    """
    express_env = {**env, "SESSION_SECRET": env["DJANGO_SECRET_KEY"], "JWT_SECRET": env["JWT_SIGNING_KEY"]}
    return {
        "peer-django": Server(
            "peer-django", bare_env(env, stores), logs / "peer-django.log", app="bench.peers.bare.wsgi:application",
            ready_path="/ping", worker_class=BENCH_WORKER_CLASS,
        ),
        "peer-express": NodeServer("peer-express", express_env, logs / "peer-express.log"),
    }  # fmt: skip


def browser_cookies(server: Server, login_path: str) -> dict[str, str]:
    """Log in to a peer; return every cookie it left in the browser (its session cookie among them).

    All of them, as for authdemo (bench.schemes.browser_cookies): the bare Django peer's
    login also sets the CSRF cookie, which a browser sends back with every request.
    """
    client = requests.Session()
    if server.name == "peer-django":
        body = {"username": USERNAME, "password": PASSWORD}
        client.post(f"{server.url}{login_path}", json=body, timeout=10).raise_for_status()
    else:
        client.get(f"{server.url}{login_path}", timeout=10).raise_for_status()
    return dict(client.cookies.items())


def access_token(server: Server) -> str:
    """A peer's token: SimpleJWT's pair view for Django, `POST /login` for Express."""
    if server.name == "peer-django":
        body = {"username": USERNAME, "password": PASSWORD}
        response = requests.post(f"{server.url}/api/token/", json=body, timeout=10)
        response.raise_for_status()
        return response.json()["access"]
    response = requests.post(f"{server.url}/login", timeout=10)
    response.raise_for_status()
    return response.json()["token"]
