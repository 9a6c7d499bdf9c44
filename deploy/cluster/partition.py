"""A network partition between the cluster's processes, on 127.0.0.1: a proxy that knows who is calling.

What has to be cut. The split brain of a Sentinel deployment is two sides that each go on
working: the Redis primary with some app instances (the minority), and the replicas, the
Sentinels and the other app instances (the majority), which promote a replica. Every link
between the two sides must fail, and every link inside a side must keep working: the
primary to app instance 1 stays up while the primary to Sentinel 2, and app instance 1 to
every Sentinel, go down.

Why not a proxy per link. Sentinel tells every client the one address it monitors, and its
peers learn the replicas' addresses from the primary's INFO: all of them connect to the same
address. A proxy in front of that address cannot tell app instance 1 from a Sentinel by
the port they dial, and giving each client an address of its own would mean a Sentinel per
client.

Why not a loopback address per process (127.0.0.2, 127.0.0.3, ...). Redis 7 can pick the
source address of its own links (`bind-source-addr`), but redis-py 8.1's connections take no
source address (the app instances would need a connection class of the drill's), and without
iptables or nft nothing on this machine filters loopback traffic by address anyway.

Why not network namespaces. `ip netns` works here (root), but a namespace has its own
loopback: the node in it needs a veth address that every other process and the Sentinels'
announcements must use, and cutting one peer rather than all of them needs either packet
filtering (iptables and nft are not installed, and a rule in the machine's own namespace
would touch the other engineers' Redis on 127.0.0.1) or each peer in a namespace of its own
(the app instances too, with nginx and the health checks reaching them through veths). It
is the real kernel path, but it changes every address of the cluster for one drill.

What this does instead: one proxy in front of every Redis node and every Sentinel, on the
address everyone knows (the node itself listens on a hidden port, and announces the public
one to its peers: `replica-announce-port`), and the proxy names the caller of each
connection it accepts by the process that holds the other end: the connection's inode in
/proc/net/tcp, and the program supervisord runs whose process, or a child of it, holds that
inode in /proc/<pid>/fd (a granian worker counts as its instance, redis-node.sh's redis-cli
as its node). So a link is a pair of program names, whichever port they dialled, and
`isolate` cuts exactly the links that cross the two sides. A connection not made by a
cluster program (the drill's own checks) is never cut. Callers are named only while a cut
is in force, at the first byte a connection carries then: outside a drill the proxy costs
a copy of each byte, not a scan of /proc.

What a cut link does. A partition drops packets; it does not reset connections. So bytes
on a cut link are simply not carried, either way, on the connections that were open and on
the ones opened during the cut (the connect succeeds, then silence: as with a lost SYN
answer, the caller finds out by its own timeout). Sentinel's PINGs go unanswered, the
replica's link to the primary goes quiet, a client's command times out. At `heal`, the
connections that were held are closed (both ends would have timed out by then) and new ones
pass again. Links inside a side never notice.

Everything is on 127.0.0.1. The proxy is one process the drill starts and stops by its pid
(`Partition`); the cluster's processes are supervisord's, stopped by pid with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path

from deploy.cluster.supervisor import Supervisor
from harness.stack import ROOT, free_port, wait_until

OUTSIDER = "outside the cluster"  # the caller of a connection no cluster program holds: never cut
CHUNK = 65536
POLL = 0.02  # seconds between looks at the drill's orders, and at whether a held link was healed
SCAN_AGE = 0.2  # seconds a scan of who holds which socket answers for
FRONTS, MINORITY, APPLIED = "fronts.json", "minority.json", "applied.json"


def tcp_hex(port: int) -> str:
    """127.0.0.1:`port` as /proc/net/tcp writes it (the address in host byte order, little-endian here)."""
    return f"0100007F:{port:04X}"


def tcp_sockets() -> dict[tuple[int, int], int]:
    """{(local port, remote port): inode} of the loopback TCP sockets (/proc/net/tcp)."""
    sockets = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":"), fields[2].split(":")
        if local[0] == remote[0] == "0100007F" and int(fields[9]):
            sockets[(int(local[1], 16), int(remote[1], 16))] = int(fields[9])
    return sockets


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def held_sockets(programs: dict[int, str]) -> dict[int, str]:
    """{socket inode: program} for every socket a process of a program (or a child's) holds."""
    owners = {}
    for root, name in programs.items():
        pending = [root]
        while pending:
            pid = pending.pop()
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        link = os.readlink(f"/proc/{pid}/fd/{fd}")
                        if link.startswith("socket:["):
                            owners.setdefault(int(link[8:-1]), name)
            pending += children(pid)
    return owners


@dataclass(eq=False)
class Connection:
    """One proxied connection: who called which node, and whether a cut has held it."""

    caller_port: int
    public: int
    node: str
    writers: list[asyncio.StreamWriter]
    caller: str | None = None  # named at the first byte it carries while a cut is in force
    held: bool = False

    def abort(self) -> None:
        for writer in self.writers:
            writer.transport.abort()


class Proxy:
    """The proxy process: a listener per front, the cut between two sides, read from `control`.

    The drill's process writes `control`/fronts.json ({program: [public port, hidden port]})
    and minority.json (the names cut off); this process looks every POLL seconds, opens the
    listeners it lacks, applies the cut and writes applied.json (the generation it applied),
    so the drill knows when a cut or a heal took effect.
    """

    def __init__(self, control: Path, supervisor_dir: Path):
        self.control, self.supervisor = control, Supervisor(supervisor_dir)
        self.minority: frozenset[str] = frozenset()
        self.listening: dict[str, asyncio.Server] = {}
        self.connections: set[Connection] = set()
        self.generation = -1
        self.sockets: dict[tuple[int, int], int] = {}
        self.owners: dict[int, str] = {}
        self.scanned = 0.0

    def programs(self) -> dict[int, str]:
        """{pid: program name} of every process supervisord runs now."""
        return {info["pid"]: info["name"] for info in self.supervisor.rpc().getAllProcessInfo() if info["pid"]}

    def scan(self) -> None:
        """Read who holds which socket now (a whole cluster's worth at once, for every
        connection that asks within SCAN_AGE: a cut makes them all ask together)."""
        try:
            self.sockets, self.owners = tcp_sockets(), held_sockets(self.programs())
        except (OSError, xmlrpc.client.Error):  # supervisord shutting down: nobody can be named
            self.sockets, self.owners = {}, {}
        self.scanned = time.monotonic()

    def name(self, connection: Connection) -> str:
        """The program that dialled the connection (OUTSIDER when none can be named: a caller
        already gone, or not a program of supervisord's, like the drill itself)."""
        key = (connection.caller_port, connection.public)
        if time.monotonic() - self.scanned > SCAN_AGE or key not in self.sockets:
            self.scan()
        inode = self.sockets.get(key)
        return self.owners.get(inode, OUTSIDER) if inode else OUTSIDER

    def cut(self, connection: Connection) -> bool:
        """Whether the connection's link crosses the partition (both ends named by now)."""
        if OUTSIDER in (connection.caller, connection.node):
            return False
        return (connection.caller in self.minority) != (connection.node in self.minority)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(OSError, ValueError):
                await self.look()
            await asyncio.sleep(POLL)

    async def look(self) -> None:
        changed = False
        for name, (public, hidden) in read_json(self.control / FRONTS, {}).items():
            if name not in self.listening:
                self.listening[name] = await asyncio.start_server(
                    lambda r, w, n=name, p=public, h=hidden: self.serve(n, p, h, r, w), "127.0.0.1", public
                )
                changed = True
        wanted = read_json(self.control / MINORITY, {"generation": 0, "names": []})
        if wanted["generation"] != self.generation:
            self.minority = frozenset(wanted["names"])
            if not self.minority:  # healed: the connections a cut held are closed (their ends gave up)
                for connection in [c for c in self.connections if c.held]:
                    connection.abort()
            self.generation, changed = wanted["generation"], True
        if changed:
            write_json(self.control / APPLIED, {"generation": self.generation, "listening": sorted(self.listening)})

    async def serve(self, node: str, public: int, hidden: int, reader, writer) -> None:
        connection = Connection(writer.get_extra_info("peername")[1], public, node, [writer])
        self.connections.add(connection)
        try:
            await self.passable(connection)
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", hidden)
            connection.writers.append(upstream_writer)
            await asyncio.gather(self.pump(connection, reader, upstream_writer),
                                 self.pump(connection, upstream_reader, writer))  # fmt: skip
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections.discard(connection)
            connection.abort()

    async def passable(self, connection: Connection) -> None:
        """Return at once while the connection's link is not cut. Across a cut, carry nothing
        until the heal, then close: both ends of a held connection have given up by then.
        Nobody is named while no cut is in force: the proxy costs a copy, not a scan."""
        if self.minority and connection.caller is None:
            connection.caller = self.name(connection)
            verdict = "cut" if self.cut(connection) else "carried"  # proxy.log: who was named, and what the cut did
            print(f"{time.time():.3f} {connection.caller} -> {connection.node}: {verdict}", flush=True)
        if not connection.held and not (self.minority and self.cut(connection)):
            return
        connection.held = True
        while self.minority and self.cut(connection):
            await asyncio.sleep(POLL)
        raise ConnectionAbortedError

    async def pump(self, connection: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            await self.passable(connection)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def write_json(path: Path, value) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value))
    temporary.replace(path)


@dataclass
class Partition:
    """The drill's handle on the proxy process: fronts, cut, heal, stop (by its pid).

    A process of its own, not a thread of the drill: the drill's reader threads would hold
    the interpreter's lock while Sentinel's PINGs wait, and on a busy machine a Sentinel that
    waits a second calls a healthy primary down.
    """

    control: Path
    supervisor_dir: Path
    process: subprocess.Popen | None = None
    generation: int = 0
    fronts: dict[str, list[int]] = field(default_factory=dict)  # program -> [public port, hidden port]

    def start(self) -> Partition:
        self.control.mkdir(parents=True, exist_ok=True)
        with (self.control / "proxy.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (our own fixed command, no shell)
                [sys.executable, "-m", "deploy.cluster.partition", str(self.control), str(self.supervisor_dir)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self._apply([])
        return self

    def front(self, name: str, public: int) -> int:
        """Serve `public` for the program `name`; the hidden port it must listen on instead
        (the launcher's hook: deploy.cluster.launcher.Cluster.front)."""
        self.fronts[name] = [public, free_port()]
        write_json(self.control / FRONTS, self.fronts)
        wait_until(lambda: name in read_json(self.control / APPLIED, {}).get("listening", ()), timeout=10,
                   what=f"the partition's proxy to listen for {name}")  # fmt: skip
        return self.fronts[name][1]

    def behind(self, public: int) -> int:
        """The port a program behind the proxy listens on (the drill's own checks dial it: they
        are never cut, and need not wait on the proxy)."""
        return next((hidden for front, hidden in self.fronts.values() if front == public), public)

    def isolate(self, minority: set[str]) -> None:
        """Cut every link between the programs named and all the others; return once it holds."""
        self._apply(sorted(minority))

    def heal(self) -> None:
        """Carry every link again (the connections the cut held are closed); return once it does."""
        self._apply([])

    def _apply(self, names: list[str]) -> None:
        self.generation += 1
        write_json(self.control / MINORITY, {"generation": self.generation, "names": names})
        wait_until(lambda: read_json(self.control / APPLIED, {}).get("generation") == self.generation, timeout=10,
                   what="the partition's proxy to apply a cut")  # fmt: skip

    def stop(self) -> None:
        """Stop the proxy process by its pid (SIGTERM, then SIGKILL)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main(argv: list[str]) -> None:
    """`python -m deploy.cluster.partition CONTROL SUPERVISOR_DIR`: the proxy process."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.nice(-10)  # the network is not what a drill tests: on a busy machine it must not be the slow part
    asyncio.run(Proxy(Path(argv[0]), Path(argv[1])).run())


if __name__ == "__main__":
    main(sys.argv[1:])
