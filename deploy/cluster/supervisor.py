"""supervisord and the programs it runs for the cluster, driven through its XML-RPC socket.

`Supervisor` renders deploy/supervisord.conf and starts supervisord in a session of its own;
`Program` (a Redis node, a Sentinel) and `App` (granian, nginx) are what it runs, each
restarted by supervisord when it dies. `Daemon` is a process started without supervisord
(deploy.cluster.postgres's server), stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from deploy import supervisor_reaper as reaper  # the listener supervisord runs; its /proc reading is reused here
from harness.stack import ROOT, wait_until

DEPLOY = ROOT / "deploy"


def fill(template: str, **values: object) -> str:
    text = (DEPLOY / template).read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text


def supervisor_quote(text: str) -> str:
    """`text` as a supervisord value: its own %-expansion escaped."""
    return text.replace("%", "%%")


def signal_session(session: int, sig: int) -> None:
    """Send `sig` to every process of `session`, each by its own pid."""
    for pid in reaper.session_members(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def make_connection(self, host):  # noqa: ARG002  (one socket, whatever the URL's host)
        return _UnixConnection(self.path)


@dataclass
class Supervisor:
    """supervisord on a unix socket of its own in `workdir`, and its XML-RPC interface."""

    workdir: Path
    process: subprocess.Popen | None = None

    @property
    def programs(self) -> Path:
        return self.workdir / "programs"

    def rpc(self):
        return xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(str(self.workdir / "supervisor.sock"))
        ).supervisor

    def start(self, *, watch: int) -> Supervisor:
        """Render deploy/supervisord.conf and run supervisord in a session of its own."""
        self.programs.mkdir(mode=0o700, parents=True, exist_ok=True)
        config = self.workdir / "supervisord.conf"
        config.write_text(fill("supervisord.conf", DIR=self.workdir, ROOT=ROOT, DEPLOY=DEPLOY, PYTHON=sys.executable,
                               WATCH=f"--watch {watch}"))  # fmt: skip
        with (self.workdir / "supervisord.out").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                ["supervisord", "-c", str(config)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(lambda: self.rpc().getState()["statename"] == "RUNNING", timeout=15, what="supervisord")
        return self

    def add(self, name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        """Write the program's file (deploy/supervisor-program.conf) and have supervisord start it."""
        environment = ",".join(f'{key}="{supervisor_quote(value)}"' for key, value in (env or {}).items())
        path = self.programs / f"{name}.conf"
        path.touch(mode=0o600)  # it may hold the app's secrets
        path.write_text(fill("supervisor-program.conf", NAME=name, COMMAND=supervisor_quote(shlex.join(command)),
                             ROOT=ROOT, ENVIRONMENT=environment, LOG=log))  # fmt: skip
        self.rpc().reloadConfig()
        self.rpc().addProcessGroup(name)

    def remove(self, name: str) -> None:
        """Stop the program (its whole process group) and forget it."""
        try:
            self.rpc().stopProcess(name)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise
        self.rpc().removeProcessGroup(name)
        (self.programs / f"{name}.conf").unlink(missing_ok=True)

    def pid(self, name: str) -> int | None:
        info = self.rpc().getProcessInfo(name)
        return info["pid"] if info["statename"] == "RUNNING" and info["pid"] else None

    def stop(self) -> None:
        """Stop supervisord and every process it started, even frozen ones; then kill, by pid,
        whatever outlived it in its session. Each step runs whatever the one before did."""
        if self.process is None:
            return
        session = self.process.pid
        signal_session(session, signal.SIGCONT)  # a SIGSTOPped process would never act on SIGTERM
        try:
            self.process.terminate()  # supervisord stops every program, by group, then exits
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            signal_session(session, signal.SIGKILL)


@dataclass
class Daemon:
    """One process we start ourselves, and stop or kill by its pid (deploy.cluster.postgres's server)."""

    name: str
    role: str
    port: int
    command: list[str]
    log: Path
    process: subprocess.Popen | None = None
    user: str | None = None  # run as this user (PostgreSQL refuses to run as root)
    stop_signal: int = signal.SIGTERM

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> Daemon:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, user=self.user
            )
        return self

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()


@dataclass
class Program:
    """One process supervisord runs for us; its pid is whatever supervisord last started."""

    name: str
    role: str
    port: int
    command: list[str]
    log: Path
    supervisor: Supervisor
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def pid(self) -> int | None:
        return self.supervisor.pid(self.name)

    def alive(self) -> bool:
        return self.pid is not None

    def start(self) -> Program:
        self.supervisor.add(self.name, self.command, self.log, self.env)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to this process alone (not its group), as `kill -9 <pid>` does; its pid."""
        pid = self.pid
        os.kill(pid, sig)
        return pid

    def ready(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())

    def describe(self) -> dict:
        return {"name": self.name, "role": self.role, "address": self.address, "pid": self.pid}


@dataclass
class App(Program):
    """An app instance (granian: `python -m serving`, from harness.stack.Server) or nginx: ready
    when /healthz answers 200."""

    group: str = ""

    def ready(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def wait_ready(self, timeout: float = 60) -> App:
        wait_until(self.ready, timeout=timeout, what=f"{self.name} to answer")
        return self
