"""One and two worker processes for each of authdemo's schemes on this machine (issue 21, goal 5):
what a second process adds to the req/s of one machine, beside what bench.scale.two_processes
shows (that two processes share logins and revocations).

Each scheme's server is started again with two workers, on the same stores and secrets, so the
same credentials work on both. Each scheme is measured on its one-worker server, then on its
two-worker one, back to back; the two-worker run has twice the connections, so each worker holds
as many as the single one did. wrk runs on the same two cores, as do PostgreSQL and Redis: the
figure is the machine's, not a worker's. Only req/s: each process keeps its own counters.
"""

from __future__ import annotations

from dataclasses import replace

from bench.load import rate
from bench.schemes import Scheme, credentials, session_cookies
from harness.stack import Server, start_all


def one_and_two(
    schemes: tuple[Scheme, ...],
    one: dict[str, Server],
    two: dict[str, Server],
    *,
    seconds: float,
    connections: int,
) -> dict:
    """req/s of each scheme on `one` (its servers by name, running) and on `two` (the same names,
    two workers each, not yet started; stopped here)."""
    start_all([two[name] for name in dict.fromkeys(scheme.server for scheme in schemes)])
    try:
        targets = credentials(schemes, one, session_cookies(schemes, one))
        rows = {}
        for scheme in schemes:
            target = targets[scheme.key]
            single = rate(target, seconds=seconds, connections=connections)
            double = rate(replace(target, server=two[scheme.server]), seconds=seconds, connections=2 * connections)
            rows[scheme.key] = {"label": scheme.label, "one": round(single), "two": round(double)}
            print(f"  {scheme.key}: {single:.0f} req/s on one worker, {double:.0f} on two", flush=True)
    finally:
        for server in two.values():
            server.stop()
    settings = (
        f"wrk -t1, {seconds:g} s each, -c{connections} against one worker and -c{2 * connections} against two, "
        "back to back; wrk, PostgreSQL and Redis share the same 2 cores."
    )
    return {"settings": settings, "schemes": rows}
