"""A PostgreSQL server of our own, in a temporary directory on a free port.

The drills restart PostgreSQL; the machine's shared server is never touched. Debian's
binaries (/usr/lib/postgresql/<version>/bin) run as the `postgres` user when we are root
(PostgreSQL refuses to run as root). Stopped by its own pid, with a fast shutdown
(SIGINT: open connections are closed, not waited for).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from deploy.cluster.supervisor import Daemon
from harness.stack import free_port, wait_until


def postgres_bin() -> Path | None:
    """Debian's newest PostgreSQL binaries directory, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


class OwnPostgres:
    """initdb once, then start, stop and start again on the same port and data."""

    def __init__(self):
        self.bin = postgres_bin()
        # A directory of its own that the postgres user can reach (pytest's are private to root).
        self.workdir = Path(tempfile.mkdtemp(prefix="authdemo-pg-"))
        self.data = self.workdir / "pgdata"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.daemon: Daemon | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> OwnPostgres:
        os.chmod(self.workdir, 0o755)
        self.data.mkdir(mode=0o700)
        if self.user:
            account = pwd.getpwnam(self.user)
            shutil.chown(self.data, account.pw_uid, account.pw_gid)
        command = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--no-sync"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, user=self.user)  # noqa: S603
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        return self

    def start(self) -> OwnPostgres:
        command = [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.data),
                   "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"]  # fmt: skip
        log = self.workdir / "postgres.log"
        self.daemon = Daemon("postgres", "database", self.port, command, log, user=self.user, stop_signal=signal.SIGINT)
        self.daemon.start()
        wait_until(self.answers, timeout=30, what="PostgreSQL to accept connections")
        return self

    def answers(self) -> bool:
        try:
            psycopg.connect(self.url(), connect_timeout=1).close()
        except psycopg.Error:
            return False
        return True

    def stop(self) -> None:
        if self.daemon:
            self.daemon.stop()

    def remove(self) -> None:
        """Stop, then delete the data directory (ours alone: created by __init__)."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
