"""`python -m deploy.cluster` (`make cluster`): the scaled-out topology on 127.0.0.1.

nginx (Debian's) in front of three granian instances; PostgreSQL (a database of the
cluster's own on the machine's server); Redis as a primary, two replicas and three Sentinels
(Debian's redis-server and redis-sentinel), every node keeping an append-only file (fsync every
second). Session writes and revocations count once one replica has them (WAIT 1,
accounts.replication): with two replicas, the primary promoted after any one node is lost
still has a replica, so logins, logouts and revocations keep working. Debian's supervisord runs
every one of them (deploy/supervisord.conf): it restarts whatever dies, by its own pid, and never
stops the rest. Every process listens on a free loopback port. SIGTERM, SIGINT or the launcher's death
stops them all. While it runs, artifacts/cluster/state.json maps it: the nginx URL, and each
process's role, address and pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis
import requests

from deploy.cluster.supervisor import DEPLOY, App, Program, Supervisor, fill
from harness.stack import ROOT, Server, Stores, base_env, free_port, prepare_site, recreate_database, wait_until

SERVICE = "authdemo"
STATE = ROOT / "artifacts" / "cluster" / "state.json"
HOSTS = ("127.0.0.1", "localhost")
PACKAGES = {"nginx": "nginx", "redis-server": "redis-server", "redis-sentinel": "redis-sentinel",
            "supervisord": "supervisor"}  # fmt: skip


def redis_command(name: str, workdir: Path, port: int, sentinels: list[int], replica_of: int | None,
                  listen: int | None = None, persistence: str = "aof") -> list[str]:  # fmt: skip
    """deploy/redis-node.sh: a replica of whichever primary the Sentinels name, never an empty primary.
    `listen`: the port it listens on when a proxy serves `port` (deploy.cluster.partition).
    `persistence`: "aof" (an append-only file, fsync every second: a restart of every node loses
    at most the last second, none on a clean shutdown) or "none" (a restart starts empty)."""
    aof = ["--appendonly", "yes", "--appendfsync", "everysec", "--appenddirname", f"{name}-aof"]
    args = ["--port", str(listen or port), "--bind", "127.0.0.1", "--save", "",
            *(aof if persistence == "aof" else ["--appendonly", "no"]),
            "--dir", str(workdir), "--dbfilename", f"{name}.rdb", "--daemonize", "no"]  # fmt: skip
    if listen and listen != port:  # its peers must dial the proxy, not the port it listens on
        args += ["--replica-announce-port", str(port)]
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
    # (program name, its public port) -> the port it listens on: the partition drill puts a
    # proxy in front of every Redis node and Sentinel (deploy.cluster.partition.Partition.front)
    front: Callable[[str, int], int] | None = None
    replicas: int = 2  # WAIT 1 with two: the primary promoted after one loss still has a replica
    persistence: str = "aof"  # or "none": see redis_command

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
        """supervisord; under it the Redis primary and its replicas, then three Sentinels watching them."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # nginx's workers may run as another user
        self.supervisor = Supervisor(self.workdir)  # assigned first: stop() stops a start that failed half-way
        self.supervisor.start(watch=os.getpid())
        sentinel_ports = [free_port() for _ in range(3)]
        primary_port = free_port()
        nodes = [("redis-1", primary_port, None)]
        nodes += [(f"redis-{n}", free_port(), primary_port) for n in range(2, self.replicas + 2)]
        for name, port, replica_of in nodes:
            listen = self.front(name, port) if self.front else None
            command = redis_command(name, self.workdir, port, sentinel_ports, replica_of, listen, self.persistence)
            role = "replica" if replica_of else "primary"
            self.redis.append(Program(name, role, port, command, self.workdir / f"{name}.log", self.supervisor).start())
        for node in self.redis:
            wait_until(node.ready, timeout=10, what=f"{node.name} to answer")
        for n, port in enumerate(sentinel_ports, start=1):
            config = self.workdir / f"sentinel-{n}.conf"
            listen = self.front(f"sentinel-{n}", port) if self.front else port
            config.write_text(fill("sentinel.conf", PORT=listen, DIR=self.workdir, SERVICE=SERVICE,
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
        # supervisord names a pid only once a program counts as RUNNING (startsecs after it
        # started): the map is written when it can name every process.
        wait_until(lambda: all(program.pid for program in self.programs()), timeout=30,
                   what="supervisord to report every process running")  # fmt: skip
        self.write_state()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_until(self.sentinels_agree, timeout=timeout, what="the Sentinels to see each other and synced replicas")

    def client(self, node: Program) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=1, socket_connect_timeout=1)

    def sentinels_agree(self) -> bool:
        """Every Sentinel knows the other two and every replica, and each replica is in sync."""
        for sentinel in self.sentinels:
            master = self.client(sentinel).sentinel_master(SERVICE)
            if master["num-other-sentinels"] < 2 or master["num-slaves"] < len(self.redis) - 1:
                return False
        replicas = self.replicas_now()
        return len(replicas) == len(self.redis) - 1 and all(
            self.client(node).info("replication").get("master_link_status") == "up" for node in replicas
        )

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
        return self.replicas_now()[0]

    def replicas_now(self) -> list[Program]:
        """Every node but the primary the Sentinels name."""
        primary = self.primary_port()
        return [node for node in self.redis if node.port != primary]

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
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--database", default="authdemo_cluster", help="recreated; must start with authdemo_cluster")
    parser.add_argument("--state", type=Path, default=STATE, help="where to write the map")
    parser.add_argument("--persistence", choices=("aof", "none"), default="aof", help="Redis's (default: aof)")
    args = parser.parse_args(argv)
    if missing := missing_programs():
        print(f"make cluster needs: apt-get install -y {' '.join(missing)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-cluster-"))
    cluster = Cluster(cluster_env(args.database), workdir, groups={"main": (args.instances, MAIN)},
                      state_path=args.state, persistence=args.persistence)  # fmt: skip
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
