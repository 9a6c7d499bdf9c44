#!/usr/bin/env python3
"""supervisord event listener: kill what a dead program left behind (deploy/supervisord.conf).

supervisord starts each program as its own process group, in supervisord's session. When a
program's leader (a granian or nginx master) dies, its workers stay in that group, orphaned,
and keep the listening port, so the program's restart fails ("Address already in use").
On every event this kills, with SIGKILL, each process group of the session whose leader is
gone. A process group id is never reused while the group has members, so nothing else is hit.
It reaps only when supervisord leads its own session (it does when it daemonizes, under
systemd, and as `make cluster` starts it).

usage: supervisor_reaper.py [--watch PID]: also stop supervisord (SIGTERM to its pid, which
stops every program) once PID is gone, so a launcher killed with SIGKILL leaves nothing behind.
Standard library only: supervisord may run it with the system's python3.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def stat(pid: int) -> tuple[str, int, int] | None:
    """The state, process group and session of `pid` (None: gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[2]), int(fields[3])


def session_members(session: int) -> dict[int, int]:
    """Every live process of `session`: pid -> process group."""
    members = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := stat(int(entry))) and found[2] == session and found[0] != "Z":
            members[int(entry)] = found[1]
    return members


def leaderless_groups(session: int) -> set[int]:
    """Process groups of `session` whose leader has exited (the session leader's excepted)."""
    members = session_members(session)
    return {group for group in members.values() if group != session and group not in members}


def reap(session: int) -> None:
    for group in leaderless_groups(session):
        try:
            os.killpg(group, signal.SIGKILL)
            print(f"reaper: killed process group {group}, whose leader had exited", file=sys.stderr, flush=True)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    watch = int(argv[argv.index("--watch") + 1]) if "--watch" in argv else None
    session = os.getsid(0)
    if session != os.getppid():  # other groups of a shared session (a terminal's) are not ours
        print("reaper: supervisord does not lead its session; reaping off", file=sys.stderr, flush=True)
    while True:  # the event listener protocol: READY, a header line, a payload, a RESULT
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return 0
        header = dict(token.split(":", 1) for token in line.split())
        sys.stdin.read(int(header["len"]))
        if session == os.getppid():
            reap(session)
        if watch and stat(watch) is None:
            os.kill(os.getppid(), signal.SIGTERM)
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
