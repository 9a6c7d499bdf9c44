"""`python -m bench.cluster` (`make cluster`): the scaled-out topology on 127.0.0.1.

nginx (Debian's) in front of three gunicorn instances; PostgreSQL (a database of the
cluster's own on the machine's server); Redis as a primary, a replica and three Sentinels
(Debian's redis-server and redis-sentinel). Every process listens on a free loopback port,
is started here and stopped by its own pid (SIGTERM stops them all). While it runs,
artifacts/cluster/state.json maps it: the nginx URL, and each process's role, address, pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
PACKAGES = {"nginx": "nginx", "redis-server": "redis-server", "redis-sentinel": "redis-sentinel"}


def wait_until(check: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (redis.RedisError, requests.RequestException, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def fill(template: str, **values: object) -> str:
    text = (DEPLOY / template).read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text


@dataclass
class Daemon:
    """One process we start, and stop or kill by its pid."""

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

    def describe(self) -> dict:
        return {"name": self.name, "role": self.role, "address": self.address, "pid": self.pid}


def redis_daemon(name: str, workdir: Path, *, replica_of: int | None = None, port: int | None = None) -> Daemon:
    port = port or free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(workdir), "--dbfilename", f"{name}.rdb", "--daemonize", "no"]  # fmt: skip
    if replica_of:
        command += ["--replicaof", "127.0.0.1", str(replica_of)]
    return Daemon(name, "replica" if replica_of else "primary", port, command, workdir / f"{name}.log")


def sentinel_daemon(name: str, workdir: Path, *, primary_port: int) -> Daemon:
    port = free_port()
    config = workdir / f"{name}.conf"
    config.write_text(fill("sentinel.conf", PORT=port, DIR=workdir, SERVICE=SERVICE, PRIMARY_PORT=primary_port))
    return Daemon(name, "sentinel", port, ["redis-sentinel", str(config)], workdir / f"{name}.log")


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


def nginx_daemon(workdir: Path, ports: dict[str, int]) -> Daemon:
    """nginx in the foreground with its own prefix, configuration and error log."""
    config, log = workdir / "nginx.conf", workdir / "error.log"
    command = ["nginx", "-p", str(workdir), "-c", str(config), "-e", str(log)]
    return Daemon("nginx", "proxy", ports[next(iter(ports))], command, workdir / "nginx.out")


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
    redis: list[Daemon] = field(default_factory=list)
    sentinels: list[Daemon] = field(default_factory=list)
    apps: dict[str, list[Server]] = field(default_factory=dict)
    nginx: Daemon | None = None
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
        """Redis through Sentinel, behind the proxy, with the group's scheme settings."""
        return {
            **self.env, "REDIS_URL": "", "REDIS_SENTINELS": self.sentinel_addresses,
            "REDIS_SENTINEL_SERVICE": SERVICE, "DJANGO_BEHIND_PROXY": "true", "DJANGO_ALLOWED_HOSTS": ",".join(HOSTS),
            **overrides,
        }  # fmt: skip

    def all_apps(self) -> list[Server]:
        return [app for group in self.apps.values() for app in group]

    def start(self) -> Cluster:
        return self.start_stores().start_apps()

    def start_stores(self) -> Cluster:
        """Redis primary and replica, then three Sentinels watching them."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # nginx's workers may run as another user
        primary = redis_daemon("redis-1", self.workdir).start()
        self.redis = [primary, redis_daemon("redis-2", self.workdir, replica_of=primary.port).start()]
        for node in self.redis:
            wait_until(lambda n=node: self.client(n).ping(), timeout=10, what=f"{node.name} to answer")
        self.sentinels = [
            sentinel_daemon(f"sentinel-{n}", self.workdir, primary_port=primary.port).start() for n in (1, 2, 3)
        ]
        self.wait_healthy()
        return self

    def start_apps(self) -> Cluster:
        """The app instances, then nginx in front of them; then the map."""
        self.apps = {
            group: [Server(f"{group}-{n}", self.app_env(overrides), self.workdir / f"{group}-{n}.log",
                           app="authdemo.wsgi", preload=True) for n in range(1, count + 1)]
            for group, (count, overrides) in self.groups.items()
        }  # fmt: skip
        for app in self.all_apps():
            app.start()
        for app in self.all_apps():
            app.wait_ready()
        self.ports = {group: free_port() for group in self.groups}
        nginx_config(self.workdir, {group: [app.port for app in apps] for group, apps in self.apps.items()}, self.ports)
        self.nginx = nginx_daemon(self.workdir, self.ports).start()
        for group in self.groups:
            wait_until(lambda g=group: requests.get(f"{self.group_url(g)}/healthz", timeout=2).ok, timeout=10,
                       what=f"nginx for {group}")  # fmt: skip
        self.write_state()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(self.sentinels_agree, timeout=timeout, what="the Sentinels to see each other and a synced replica")

    def client(self, node: Daemon) -> redis.Redis:
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

    def primary(self) -> Daemon:
        return next(node for node in self.redis if node.port == self.primary_port())

    def replica(self) -> Daemon:
        return next(node for node in self.redis if node.port != self.primary_port())

    def restart_redis(self, node: Daemon) -> Daemon:
        """Start a dead Redis again as a replica of the current primary, never as a primary:
        it kept nothing on disk, and an empty primary would wipe its replica."""
        primary = wait_until(
            lambda: self.primary_port() != node.port and self.primary_port(), timeout=30, what="a new primary"
        )
        fresh = redis_daemon(node.name, self.workdir, replica_of=primary, port=node.port).start()
        self.redis[self.redis.index(node)] = fresh
        wait_until(lambda: self.client(fresh).ping(), timeout=10, what=f"{fresh.name} to answer")
        self.write_state()
        return fresh

    def route_to(self, group: str, count: int) -> None:
        """Send the group's traffic to its first `count` instances only (nginx reloads on SIGHUP)."""
        upstreams = {name: [app.port for app in apps] for name, apps in self.apps.items()}
        upstreams[group] = upstreams[group][:count]
        nginx_config(self.workdir, upstreams, self.ports)
        self.nginx.process.send_signal(signal.SIGHUP)
        time.sleep(1)  # the old workers finish; the new ones route as configured

    def kill_app(self, app: Server) -> None:
        """SIGKILL the instance's whole process group: master and workers die at once."""
        os.killpg(app.process.pid, signal.SIGKILL)
        app.process.wait()

    def restart_app(self, app: Server) -> Server:
        app.start().wait_ready()
        self.write_state()
        return app

    def supervise_once(self) -> None:
        """Restart whatever died, as an init system would."""
        for node in list(self.redis):
            if not node.alive():
                self.restart_redis(node)
        for app in self.all_apps():
            if app.process.poll() is not None:
                self.restart_app(app)

    def state(self) -> dict:
        primary = self.primary_port()
        redis_nodes = [{**n.describe(), "role": "primary" if n.port == primary else "replica"} for n in self.redis]
        apps = [{"name": a.name, "role": "app", "group": group, "address": a.url.removeprefix("http://"),
                 "pid": a.process.pid} for group, members in self.apps.items() for a in members]  # fmt: skip
        return {
            "url": self.url, "urls": {group: self.group_url(group) for group in self.groups},
            "service": SERVICE, "nginx": self.nginx.describe(), "apps": apps,
            "redis": redis_nodes, "sentinels": [s.describe() for s in self.sentinels], "workdir": str(self.workdir),
        }  # fmt: skip

    def write_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state(), indent=2) + "\n")
        temporary.replace(self.state_path)

    def stop_apps(self) -> None:
        """Stop nginx, then the app instances, by their own pids."""
        if self.nginx:
            self.nginx.stop()
        for app in self.all_apps():
            app.stop()

    def stop(self) -> None:
        """Stop every process by its own pid: the proxy first, the stores last."""
        self.stop_apps()
        for daemon in [*self.sentinels, *self.redis]:
            daemon.stop()
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
    args = parser.parse_args(argv)
    if missing := missing_programs():
        print(f"make cluster needs: apt-get install -y {' '.join(missing)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-cluster-"))
    cluster = Cluster(cluster_env(), workdir, groups={"main": (args.instances, MAIN)})
    try:
        cluster.start()
        print(f"authdemo cluster at {cluster.url}/  (map: {cluster.state_path}; Ctrl-C or SIGTERM stops it)")
        print("  log in: alice / alice-demo-pass, bob / bob-demo-pass", flush=True)
        while True:
            time.sleep(0.5)
            cluster.supervise_once()
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
