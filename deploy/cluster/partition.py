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
/proc/net/tcp, the process whose /proc/<pid>/fd holds it, and up its parents to the program
supervisord runs (a gunicorn worker maps to its instance, redis-node.sh's redis-cli to its
node). So a link is a pair of program names, whichever port they dialled, and `isolate`
cuts exactly the links that cross the two sides. A connection not made by a cluster program
(the drill's own checks) is never cut.

What a cut link does. A partition drops packets; it does not reset connections. So bytes
on a cut link are simply not carried, either way, on the connections that were open and on
the ones opened during the cut (the connect succeeds, then silence: as with a lost SYN
answer, the caller finds out by its own timeout). Sentinel's PINGs go unanswered, the
replica's link to the primary goes quiet, a client's command times out. At `heal`, the
connections that were held are closed (both ends would have timed out by then) and new ones
pass again. Links inside a side never notice.

Everything is on 127.0.0.1; the proxy runs on a thread of the drill's own process (no
process to stop), and the cluster's processes are supervisord's, stopped by pid with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.stack import free_port

OUTSIDER = "outside the cluster"  # the caller of a connection no cluster program holds: never cut
CHUNK = 65536
POLL = 0.02  # seconds between looks at whether a held link was healed


def tcp_hex(port: int) -> str:
    """127.0.0.1:`port` as /proc/net/tcp writes it (the address in host byte order, little-endian here)."""
    return f"0100007F:{port:04X}"


def socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the loopback TCP socket bound to `local_port` and connected to `remote_port`."""
    local, remote = tcp_hex(local_port), tcp_hex(remote_port)
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return int(fields[9]) or None
    return None


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def holder(inode: int, programs: dict[int, str]) -> str:
    """The program (by supervisord's pid -> name map) one of whose processes holds socket `inode`."""
    target = f"socket:[{inode}]"
    for root, name in programs.items():
        pending = [root]
        while pending:
            pid = pending.pop()
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return name
            pending += children(pid)
    return OUTSIDER


@dataclass(eq=False)
class Connection:
    """One proxied connection: who called which node, and whether a cut has held it."""

    caller: str
    node: str
    writers: list[asyncio.StreamWriter]
    held: bool = False

    def abort(self) -> None:
        for writer in self.writers:
            writer.transport.abort()


@dataclass
class Partition:
    """Proxies in front of the cluster's Redis nodes and Sentinels, and the cut between two sides.

    `programs` names the cluster's processes ({pid: program name}, from supervisord); it is
    asked when a connection arrives, so it may be set once the cluster has started.
    """

    programs: Callable[[], dict[int, str]] = dict
    minority: frozenset[str] = frozenset()
    fronts: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> (public port, hidden port)
    _connections: set[Connection] = field(default_factory=set)
    _servers: list[asyncio.Server] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Partition:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="partition", daemon=True)
        self._thread.start()
        return self

    def front(self, name: str, public: int) -> int:
        """Serve `public` for the program `name` and return the hidden port it must listen on
        (the launcher's hook: deploy.cluster.launcher.Cluster.front)."""
        hidden = free_port()
        server = asyncio.run_coroutine_threadsafe(self._listen(name, public, hidden), self._loop).result(timeout=10)
        self._servers.append(server)
        self.fronts[name] = (public, hidden)
        return hidden

    async def _listen(self, name: str, public: int, hidden: int) -> asyncio.Server:
        async def serve(reader, writer):
            await self._serve(name, public, hidden, reader, writer)

        return await asyncio.start_server(serve, "127.0.0.1", public)

    def cut(self, caller: str, node: str) -> bool:
        """Whether the link between two programs crosses the partition."""
        if OUTSIDER in (caller, node):
            return False
        return (caller in self.minority) != (node in self.minority)

    def isolate(self, minority: set[str]) -> None:
        """Cut every link between the programs named and all the others."""
        self.minority = frozenset(minority)

    def heal(self) -> None:
        """Carry every link again; the connections a cut held are closed (their ends gave up)."""
        self.minority = frozenset()
        self._loop.call_soon_threadsafe(self._abort_held)

    def _abort_held(self) -> None:
        for connection in [c for c in self._connections if c.held]:
            connection.abort()

    def identify(self, caller_port: int, public: int) -> str:
        inode = socket_inode(caller_port, public)
        return holder(inode, self.programs()) if inode else OUTSIDER

    async def _serve(self, node: str, public: int, hidden: int, reader, writer) -> None:
        caller_port = writer.get_extra_info("peername")[1]
        caller = await asyncio.get_running_loop().run_in_executor(None, self.identify, caller_port, public)
        connection = Connection(caller, node, [writer])
        self._connections.add(connection)
        try:
            await self._pass(connection)
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", hidden)
            connection.writers.append(upstream_writer)
            await asyncio.gather(self._pump(connection, reader, upstream_writer),
                                 self._pump(connection, upstream_reader, writer))  # fmt: skip
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(connection)
            connection.abort()

    async def _pass(self, connection: Connection) -> None:
        """Return at once while the connection's link is not cut. Across a cut, carry nothing
        until the heal, then close: both ends of a held connection have given up by then."""
        if not self.cut(connection.caller, connection.node) and not connection.held:
            return
        connection.held = True
        while self.cut(connection.caller, connection.node):
            await asyncio.sleep(POLL)
        raise ConnectionAbortedError

    async def _pump(self, connection: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            await self._pass(connection)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    def links(self) -> list[tuple[str, str, bool]]:
        """The open connections as (caller, node, held), for a drill's timeline."""
        return sorted((c.caller, c.node, c.held) for c in list(self._connections))

    def stop(self) -> None:
        """Close every listener and connection, then the loop's thread."""
        if self._loop is None:
            return

        async def close():
            for server in self._servers:
                server.close()
            for connection in list(self._connections):
                connection.abort()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None


def supervised(supervisor) -> Callable[[], dict[int, str]]:
    """{pid: program name} of every process `supervisor` (deploy.cluster.supervisor) runs now."""

    def programs() -> dict[int, str]:
        return {info["pid"]: info["name"] for info in supervisor.rpc().getAllProcessInfo() if info["pid"]}

    return programs
