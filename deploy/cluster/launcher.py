"""`python -m bench.cluster` (`make cluster`): the scaled-out topology on 127.0.0.1.

nginx (Debian's) in front of three gunicorn instances; PostgreSQL (a database of the
cluster's own on the machine's server); Redis as a primary, a replica and three Sentinels
(Debian's redis-server and redis-sentinel). Debian's supervisord runs every one of them
(deploy/supervisord.conf): it restarts whatever dies, by its own pid, and never stops the
rest. Every process listens on a free loopback port. SIGTERM, SIGINT or the launcher's death
stops them all. While it runs, artifacts/cluster/state.json maps it: the nginx URL, and each
process's role, address and pid.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis
import requests

from bench.stack import ROOT, Server, Stores, base_env, free_port, prepare_site, recreate_database

SERVICE = "authdemo"
DEPLOY = ROOT / "deploy"
STATE = ROOT / "artifacts" / "cluster" / "state.json"
HOSTS = ("127.0.0.1", "localhost")
PACKAGES = {"nginx": "nginx", "redis-server": "redis-server", "redis-sentinel": "redis-sentinel",
            "supervisord": "supervisor"}  # fmt: skip
_spec = importlib.util.spec_from_file_location("supervisor_reaper", DEPLOY / "supervisor_reaper.py")
reaper = importlib.util.module_from_spec(_spec)  # the listener supervisord runs; its /proc reading is reused here
_spec.loader.exec_module(reaper)


def wait_until(check: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (redis.RedisError, requests.RequestException, OSError, xmlrpc.client.Error):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


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
    """One process we start ourselves, and stop or kill by its pid (bench.postgres's server)."""

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
    """An app instance (gunicorn) or nginx: ready when /healthz answers 200."""

    group: str = ""

    def ready(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def wait_ready(self, timeout: float = 60) -> App:
        wait_until(self.ready, timeout=timeout, what=f"{self.name} to answer")
        return self


def redis_command(name: str, workdir: Path, port: int, sentinels: list[int], replica_of: int | None) -> list[str]:
    """deploy/redis-node.sh: a replica of whichever primary the Sentinels name, never an empty primary."""
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--dbfilename", f"{name}.rdb", "--daemonize", "no"]  # fmt: skip
    if replica_of:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    return ["sh", str(DEPLOY / "redis-node.sh"), SERVICE, ",".join(map(str, sentinels)), str(port), *args]


def nginx_config(workdir: Path, groups: dict[str, list[int]], ports: dict[str, int]) -> Path:
    """Write nginx's configuration: one port per group of app instances."""
    sites = "\n".join(
        fill("nginx-site.conf", GROUP=group, COUNT=len(upstream), PORT=ports[group], HOSTS=" ".join(HOSTS),
             UPSTREAMS="\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstream))
        for group, upstream in groups.items()
    )  # fmt: skip
    config = workdir / "nginx.conf"
    config.write_text(fill("nginx.conf", DIR=workdir, SITES=sites))
    return config


# The app instances behind nginx, by group. "main" is the cluster; "stateless" is what the
# drills compare it with: database sessions and pure stateless JWT, on the same stores.
MAIN = {"SESSION_BACKEND": "redis", "JWT_REVOCATION": "cutoff"}
STATELESS = {"SESSION_BACKEND": "db", "JWT_REVOCATION": "off"}


@dataclass
class Cluster:
    """The whole topology; `env` is the app's environment (database, secrets, settings)."""

    env: dict[str, str]
    workdir: Path
    groups: dict[str, tuple[int, dict[str, str]]] = field(default_factory=lambda: {"main": (3, MAIN)})
    state_path: Path = STATE
    supervisor: Supervisor | None = None
    redis: list[Program] = field(default_factory=list)
    sentinels: list[Program] = field(default_factory=list)
    apps: dict[str, list[App]] = field(default_factory=dict)
    nginx: App | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.group_url(next(iter(self.groups)))

    def group_url(self, group: str) -> str:
        return f"http://127.0.0.1:{self.ports[group]}"

    @property
    def sentinel_addresses(self) -> str:
        return ",".join(s.address for s in self.sentinels)

    def app_env(self, overrides: dict[str, str]) -> dict[str, str]:
        """Redis through Sentinel, behind the proxy, with the group's scheme settings; only
        what differs from supervisord's own environment (which the programs inherit)."""
        env = {
            **self.env, "REDIS_URL": "", "REDIS_SENTINELS": self.sentinel_addresses,
            "REDIS_SENTINEL_SERVICE": SERVICE, "DJANGO_BEHIND_PROXY": "true", "DJANGO_ALLOWED_HOSTS": ",".join(HOSTS),
            **overrides,
        }  # fmt: skip
        return {key: value for key, value in env.items() if os.environ.get(key) != value}

    def all_apps(self) -> list[App]:
        return [app for group in self.apps.values() for app in group]

    def programs(self) -> list[Program]:
        return [*self.redis, *self.sentinels, *self.all_apps(), *([self.nginx] if self.nginx else [])]

    def start(self) -> Cluster:
        return self.start_stores().start_apps()

    def start_stores(self) -> Cluster:
        """supervisord; under it Redis primary and replica, then three Sentinels watching them."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # nginx's workers may run as another user
        self.supervisor = Supervisor(self.workdir)  # assigned first: stop() stops a start that failed half-way
        self.supervisor.start(watch=os.getpid())
        sentinel_ports = [free_port() for _ in range(3)]
        primary_port = free_port()
        for name, port, replica_of in (("redis-1", primary_port, None), ("redis-2", free_port(), primary_port)):
            command = redis_command(name, self.workdir, port, sentinel_ports, replica_of)
            role = "replica" if replica_of else "primary"
            self.redis.append(Program(name, role, port, command, self.workdir / f"{name}.log", self.supervisor).start())
        for node in self.redis:
            wait_until(node.ready, timeout=10, what=f"{node.name} to answer")
        for n, port in enumerate(sentinel_ports, start=1):
            config = self.workdir / f"sentinel-{n}.conf"
            config.write_text(fill("sentinel.conf", PORT=port, DIR=self.workdir, SERVICE=SERVICE,
                                   PRIMARY_PORT=primary_port))  # fmt: skip
            self.sentinels.append(Program(f"sentinel-{n}", "sentinel", port, ["redis-sentinel", str(config)],
                                         self.workdir / f"sentinel-{n}.log", self.supervisor).start())  # fmt: skip
        self.wait_healthy()
        return self

    def start_apps(self) -> Cluster:
        """The app instances, then nginx in front of them; then the map."""
        self.apps = {group: [] for group in self.groups}
        for group, (count, overrides) in self.groups.items():
            for n in range(1, count + 1):
                name, log, env = f"{group}-{n}", self.workdir / f"{group}-{n}.log", self.app_env(overrides)
                command = Server(name, env, log, app="authdemo.wsgi", preload=True).command()
                port = int(command[command.index("--bind") + 1].rsplit(":", 1)[1])
                self.apps[group].append(App(name, "app", port, command, log, self.supervisor, env, group).start())
        for app in self.all_apps():
            app.wait_ready()
        self.ports = {group: free_port() for group in self.groups}
        config = nginx_config(
            self.workdir, {g: [app.port for app in apps] for g, apps in self.apps.items()}, self.ports
        )
        command = ["nginx", "-p", str(self.workdir), "-c", str(config), "-e", str(self.workdir / "error.log")]
        self.nginx = App("nginx", "proxy", self.ports[next(iter(self.ports))], command, self.workdir / "nginx.out",
                         self.supervisor).start()  # fmt: skip
        for group in self.groups:
            wait_until(lambda g=group: requests.get(f"{self.group_url(g)}/healthz", timeout=2).ok, timeout=10,
                       what=f"nginx for {group}")  # fmt: skip
        self.write_state()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(self.sentinels_agree, timeout=timeout, what="the Sentinels to see each other and a synced replica")

    def client(self, node: Program) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=1, socket_connect_timeout=1)

    def sentinels_agree(self) -> bool:
        """Every Sentinel knows the other two and a replica that is in sync."""
        for sentinel in self.sentinels:
            master = self.client(sentinel).sentinel_master(SERVICE)
            if master["num-other-sentinels"] < 2 or master["num-slaves"] < 1:
                return False
        return self.client(self.replica()).info("replication").get("master_link_status") == "up"

    def primary_port(self) -> int | None:
        """The primary's port as most Sentinels report it (None: no Sentinel answers)."""
        ports = []
        for sentinel in self.sentinels:
            try:
                ports.append(int(self.client(sentinel).sentinel_get_master_addr_by_name(SERVICE)[1]))
            except (redis.RedisError, TypeError):
                continue
        return max(set(ports), key=ports.count) if ports else None

    def switched_after(self, moment: float) -> float | None:
        """When a Sentinel first logged `+switch-master` after `moment` (epoch seconds), if one did."""
        times = []
        for sentinel in self.sentinels:
            for line in sentinel.log.read_text(errors="replace").splitlines():
                if "+switch-master" in line:  # "<pid>:X 27 Nov 2026 23:17:00.063 # +switch-master ..."
                    stamp = line.split(" # ", 1)[0].split(" ", 1)[1]
                    times.append(datetime.strptime(stamp, "%d %b %Y %H:%M:%S.%f").timestamp())
        return min((t for t in times if t >= moment), default=None)

    def primary(self) -> Program:
        return next(node for node in self.redis if node.port == self.primary_port())

    def replica(self) -> Program:
        return next(node for node in self.redis if node.port != self.primary_port())

    def wait_back(self, program: Program, old_pid: int, *, timeout: float = 60) -> int:
        """Wait until supervisord has started `program` again and it answers; its new pid."""
        wait_until(lambda: program.pid not in (None, old_pid) and program.ready(), timeout=timeout,
                   what=f"supervisord to restart {program.name}")  # fmt: skip
        self.write_state()
        return program.pid

    def route_to(self, group: str, count: int) -> None:
        """Send the group's traffic to its first `count` instances only (nginx reloads on SIGHUP)."""
        upstreams = {name: [app.port for app in apps] for name, apps in self.apps.items()}
        upstreams[group] = upstreams[group][:count]
        nginx_config(self.workdir, upstreams, self.ports)
        self.nginx.kill(signal.SIGHUP)
        time.sleep(1)  # the old workers finish; the new ones route as configured

    def wait_recovered(self, timeout: float = 60) -> None:
        """Wait until every process runs and answers again (supervisord restarts what died)."""
        for program in self.programs():
            wait_until(lambda p=program: p.alive() and p.ready(), timeout=timeout, what=f"{program.name} to answer")
        if self.sentinels:
            self.wait_healthy(timeout)
        if self.nginx:
            self.write_state()

    def state(self) -> dict:
        primary = self.primary_port()
        redis_nodes = [{**n.describe(), "role": "primary" if n.port == primary else "replica"} for n in self.redis]
        apps = [{**app.describe(), "group": app.group} for app in self.all_apps()]
        return {
            "url": self.url, "urls": {group: self.group_url(group) for group in self.groups},
            "service": SERVICE, "nginx": self.nginx.describe(), "apps": apps,
            "redis": redis_nodes, "sentinels": [s.describe() for s in self.sentinels], "workdir": str(self.workdir),
            "supervisord": {"pid": self.supervisor.process.pid, "socket": str(self.workdir / "supervisor.sock")},
        }  # fmt: skip

    def write_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state(), indent=2) + "\n")
        temporary.replace(self.state_path)

    def stop_apps(self) -> None:
        """Stop nginx, then the app instances (supervisord stops each one's whole group)."""
        for program in [*([self.nginx] if self.nginx else []), *self.all_apps()]:
            self.supervisor.remove(program.name)
        self.nginx, self.apps = None, {}

    def stop(self) -> None:
        """Stop supervisord and with it every process (frozen ones too), whatever fails on the way."""
        try:
            if self.supervisor:
                self.supervisor.stop()
        finally:
            self.state_path.unlink(missing_ok=True)


def missing_programs() -> list[str]:
    return [package for program, package in PACKAGES.items() if not shutil.which(program)]


def cluster_env(database: str = "authdemo_cluster") -> dict[str, str]:
    """Production settings on a database of the cluster's own (recreated: its name is guarded)."""
    stores = Stores(database, redis_db=0)
    recreate_database(stores, prefix="authdemo_cluster", flush_redis=False)
    env = base_env(stores)
    prepare_site(env)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--database", default="authdemo_cluster", help="recreated; must start with authdemo_cluster")
    parser.add_argument("--state", type=Path, default=STATE, help="where to write the map")
    args = parser.parse_args(argv)
    if missing := missing_programs():
        print(f"make cluster needs: apt-get install -y {' '.join(missing)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-cluster-"))
    cluster = Cluster(cluster_env(args.database), workdir, groups={"main": (args.instances, MAIN)},
                      state_path=args.state)  # fmt: skip
    try:
        cluster.start()
        print(f"authdemo cluster at {cluster.url}/  (map: {cluster.state_path}; Ctrl-C or SIGTERM stops it)")
        print(f"  supervisorctl -c {workdir}/supervisord.conf status  (supervisord restarts what dies)")
        print("  log in: alice / alice-demo-pass, bob / bob-demo-pass", flush=True)
        while cluster.supervisor.process.poll() is None:
            time.sleep(0.5)
        print("supervisord exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stop short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
