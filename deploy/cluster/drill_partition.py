"""`python -m deploy.cluster.drill_partition [--quick]`: the Redis primary partitioned away, then healed.

The split brain of a Sentinel deployment, on 127.0.0.1 (deploy.cluster.partition says how):
the minority side is the Redis primary and app instance 1; the majority side the replicas,
the three Sentinels and the other instances. Every link between the sides is cut, none inside
them. The drill reads three credentials at every instance, back to back, for the whole run
(a session that stays live, a session and an access token revoked on the majority side
during the partition) and records every request, login and revocation in a History
(deploy.cluster.history) that deploy.cluster.checker judges. Timeline:

1. a few seconds of traffic; then the cut, and the Sentinels promote a replica;
2. on the majority side: a logout and a "log out everywhere" (each must be acknowledged
   once the new primary has a replica: 302) and a login; on the minority side: a logout
   and a login, which must not be acknowledged (the old primary has no replica to WAIT for:
   503), and a write of the drill's own on the old primary;
3. the partition held for a while, then healed: the old primary must rejoin as a replica of
   the new one, its unacknowledged writes gone;
4. a few seconds of traffic, then a last read of every credential at every instance.

Violations (exit 1): the checker's (a revoked credential accepted more than B after its
revocation was acknowledged, a live one refused as logged out, an acknowledged write lost),
a minority write acknowledged, the old primary not back as a replica, its own writes still
there, a credential revoked on the majority side accepted anywhere after the heal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from authdemo.measured import JWT_CUTOFF, SESSION_REDIS
from deploy.cluster.checker import LOCAL_TIER_BOUND, check
from deploy.cluster.drill_kit import Drill, Workers
from deploy.cluster.history import History
from deploy.cluster.launcher import MAIN, Cluster, missing_programs
from deploy.cluster.partition import Partition
from deploy.cluster.postgres import OwnPostgres, postgres_bin
from deploy.cluster.supervisor import App
from harness.logins import bearer, log_in, post_form
from harness.stack import Stores, base_env, prepare_site, wait_until

FAULT = "Redis primary partitioned from its replicas and the Sentinels"  # the drill's name and the checker's fault
MARKER = "partition-drill:written-on-the-old-primary"
PATHS = {SESSION_REDIS: "/accounts/profile/", JWT_CUTOFF: "/api/dashboard/"}
DEMO_USERS = {"session": ("alice", "alice-demo-pass"), "revoked": ("admin", "admin-demo-pass")}
PAUSE = 0.1  # seconds between one reader's requests: 2 cores are shared with the cluster
ACK_WITHIN = 15  # seconds the majority side's revocations are retried until one is acknowledged


@dataclass(frozen=True)
class Credential:
    scheme: str
    name: str
    client: requests.Session


def read(history: History, app: App, credential: Credential) -> str:
    """One GET of the credential's page at one instance, recorded with the instance's name."""
    start, status, retry_after, detail = history.now(), None, False, app.name
    try:
        response = credential.client.get(app.url + PATHS[credential.scheme], allow_redirects=False, timeout=5)
        status, retry_after = response.status_code, "Retry-After" in response.headers
    except requests.RequestException as exc:
        detail += f": {type(exc).__name__}"
    return history.request(credential.scheme, credential.name, start=start, end=history.now(), status=status,
                           retry_after=retry_after, detail=detail)  # fmt: skip


class Readers(Workers):
    """Every credential read at every instance, back to back, on threads, until the block ends."""

    join_timeout = 15

    def __init__(self, history: History, apps: list[App], credentials: list[Credential]):
        super().__init__()
        self.history = history
        self.threads = [threading.Thread(target=self._run, args=(app, c), daemon=True)
                        for app in apps for c in credentials]  # fmt: skip

    def _run(self, app: App, credential: Credential) -> None:
        while not self.stopping.is_set():
            read(self.history, app, credential)
            time.sleep(PAUSE)


def partitionable(env: dict[str, str], workdir: Path, *, instances: int) -> tuple[Cluster, Partition]:
    """A cluster (not started) whose Redis nodes and Sentinels are behind the partition's proxies."""
    partition = Partition(workdir.parent / f"{workdir.name}-partition", workdir).start()
    cluster = Cluster({**env, "AUTH_THROTTLE_RATE": "1000/minute"}, workdir, groups={"main": (instances, MAIN)},
                      state_path=workdir / "state.json", front=partition.front)  # fmt: skip
    return cluster, partition


def node(partition: Partition, port: int) -> redis.Redis:
    """A client of the Redis node at `port`, past the proxy (the drill is on neither side)."""
    return redis.Redis(host="127.0.0.1", port=partition.behind(port), socket_timeout=2, socket_connect_timeout=2)


def rejoined(partition: Partition, old_port: int, new_port: int) -> bool:
    info = node(partition, old_port).info("replication")
    return info["role"] == "slave" and info["master_port"] == new_port and info["master_link_status"] == "up"


def status_of(request) -> int | None:
    """The status of a request made by `request()`; None when none came (no answer, a timeout)."""
    try:
        return request().status_code
    except requests.RequestException:
        return None


def acknowledged(history: History, credentials: list[str], action, *, what: str, until: float) -> bool:
    """Retry the revocation until it is acknowledged (302) or `until` (monotonic); each attempt recorded."""
    while True:
        if history.revoke(credentials, lambda: status_of(action) == 302, what=what):
            return True
        if time.monotonic() > until:
            return False
        time.sleep(0.5)


def drill_partition(cluster: Cluster, partition: Partition, history: History, users: dict, *, seconds: float,
                    bound: float = LOCAL_TIER_BOUND, verbose: bool = False) -> Drill:  # fmt: skip
    """Cut the primary and the first instance off from everything else, hold, heal; judge the history."""
    drill = Drill(FAULT, tolerated=set(), verbose=verbose, history=history)
    h = drill.history
    for scheme in PATHS:
        h.bound(scheme, bound)
    apps = cluster.apps["main"]
    minority_app, majority_app = apps[0], apps[1]
    old = cluster.primary()
    logins = {name: h.login(SESSION_REDIS, f"session-{name}", lambda u=user: log_in(majority_app.url, *users[u]))
              for name, user in (("live", "session"), ("ended", "session"), ("attempted", "session"),
                                 ("everywhere", "revoked"))}  # fmt: skip
    token = h.login(JWT_CUTOFF, "token-revoked", lambda: bearer(majority_app.url, *users["revoked"]))
    if None in (token, *logins.values()):
        raise RuntimeError("a login before the partition failed")
    live, ended, attempted, everywhere = logins.values()
    credentials = [Credential(SESSION_REDIS, "session-live", live), Credential(SESSION_REDIS, "session-ended", ended),
                   Credential(JWT_CUTOFF, "token-revoked", token),
                   Credential(SESSION_REDIS, "session-attempted", attempted)]  # fmt: skip
    with Readers(h, apps, credentials):
        drill.started = time.monotonic()
        time.sleep(seconds / 3)
        minority = {old.name, minority_app.name}
        offset = node(partition, old.port).info("replication")["master_repl_offset"]
        cut, wall = drill.now(), time.time()
        partition.isolate(minority)
        drill.mark(f"cut {sorted(minority)} off from the rest (the primary was on port {old.port})")
        new_port = wait_until(lambda: cluster.primary_port() not in (None, old.port) and cluster.primary_port(),
                              timeout=30, what="the Sentinels to promote a replica")  # fmt: skip
        switched = cluster.switched_after(wall)
        failover = drill.figures["failover_seconds"] = round(switched - wall if switched else drill.now() - cut, 2)
        drill.mark(f"the Sentinels promoted the node on port {new_port}, {failover} s after the cut", at=cut + failover)
        # The minority side: the drill's own write on the old primary, a logout and a login there.
        old_client = node(partition, old.port)
        try:
            old_client.set(MARKER, "1")
            drill.figures["old_primary_took_a_write"] = True
            drill.figures["old_primary_wait_acks"] = old_client.execute_command("WAIT", 1, 500)
        except redis.RedisError as exc:  # min-replicas-to-write refuses it: the better answer
            drill.figures["old_primary_took_a_write"] = False
            drill.mark(f"the old primary refused a write: {exc}")
        answers = []

        def minority_logout() -> bool:
            answers.append(status_of(lambda: post_form(attempted, minority_app.url, "/accounts/logout/", timeout=10)))
            return answers[-1] == 302

        h.revoke(["session-attempted"], minority_logout, what="logout on the minority side")
        drill.mark(f"logout through {minority_app.name} (minority side) answered {answers[-1]}")
        if answers[-1] == 302:
            drill.violate(f"a logout through {minority_app.name} was acknowledged by a primary with no replica")
        minority_login = h.login(SESSION_REDIS, "session-minority-login",
                                 lambda: log_in(minority_app.url, *users["session"], timeout=10))  # fmt: skip
        drill.mark(f"a login through {minority_app.name} (minority side) {'succeeded' if minority_login else 'failed'}")
        # The majority side: a logout and a "log out everywhere", acknowledged once the new
        # primary has a replica to WAIT for; and a login.
        until = time.monotonic() + ACK_WITHIN
        done = acknowledged(h, ["session-ended"], lambda: post_form(ended, majority_app.url, "/accounts/logout/"),
                            what="logout on the majority side", until=until)  # fmt: skip
        done &= acknowledged(h, ["session-everywhere", "token-revoked"],
                             lambda: post_form(everywhere, majority_app.url, "/accounts/sessions/everywhere/"),
                             what="log out everywhere on the majority side", until=until)  # fmt: skip
        drill.mark(f"revocations through {majority_app.name} (majority side): "
                   f"{'acknowledged' if done else f'none acknowledged within {ACK_WITHIN} s'}")  # fmt: skip
        if not done:
            drill.violate("the majority side could not acknowledge a revocation (no replica left to WAIT for?)")
        majority_login = h.login(SESSION_REDIS, "session-majority-login",
                                 lambda: log_in(majority_app.url, *users["session"], timeout=10))  # fmt: skip
        drill.mark(f"a login through {majority_app.name} (majority side) {'succeeded' if majority_login else 'failed'}")
        time.sleep(seconds)
        ahead = node(partition, old.port).info("replication")["master_repl_offset"] - offset
        drill.figures["old_primary_bytes_unreplicated"] = ahead
        healed = drill.now()
        partition.heal()
        drill.mark("healed every link")
        wait_until(lambda: rejoined(partition, old.port, new_port), timeout=30,
                   what=f"{old.name} to rejoin as a replica of the node on port {new_port}")  # fmt: skip
        drill.figures["rejoin_seconds"] = round(drill.now() - healed, 2)
        drill.mark(f"{old.name} is a replica of the new primary, in sync ({drill.figures['rejoin_seconds']} s)")
        if old_client.exists(MARKER):
            drill.violate(f"{old.name} kept a write it took while cut off")
        time.sleep(seconds / 3)
    for login, name in ((minority_login, "session-minority-login"), (majority_login, "session-majority-login")):
        if login:
            credentials.append(Credential(SESSION_REDIS, name, login))
    for app in apps:  # the last word on every credential, at every instance
        for credential in credentials:
            read(h, app, credential)
    report = check(history)
    drill.figures["checker"] = report.table().get(FAULT, {})
    for line in report.violations(FAULT):
        drill.violate(line)
    return drill


def run(env: dict[str, str], workdir: Path, history: History, *, users: dict = DEMO_USERS, instances: int,
        seconds: float, verbose: bool = False) -> Drill:  # fmt: skip
    """Start a partitionable cluster on `env`'s stores, run the drill, stop everything it started."""
    cluster, partition = partitionable(env, workdir, instances=instances)
    try:
        cluster.start()
        return drill_partition(cluster, partition, history, users, seconds=seconds, verbose=verbose)
    finally:
        try:
            cluster.stop()
        finally:
            partition.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster.drill_partition",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="hold the partition 3 s instead of 10")
    parser.add_argument("--history", type=Path, help="save the history (JSON lines) here")
    args = parser.parse_args(argv)
    if (missing := missing_programs()) or not postgres_bin():
        print(f"the drill needs: apt-get install -y {' '.join(missing) or 'postgresql'}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="authdemo-partition-"))
    os.chmod(workdir, 0o755)
    postgres, history = OwnPostgres().init().start(), History()
    try:
        env = {**base_env(Stores("authdemo_drill", 0)), "REDIS_URL": ""}
        env["DATABASE_URL"] = postgres.create_database("authdemo_drill")
        prepare_site(env)
        print(f"logs in {workdir}", flush=True)
        drill = run(env, workdir / "cluster", history, instances=3, seconds=3 if args.quick else 10, verbose=True)
    finally:
        with contextlib.suppress(Exception):
            postgres.remove()
        if args.history:
            history.save(args.history)
    for line in check(history).lines(FAULT):
        print(f"  {line}")
    print(f"== {drill.name}: {'OK' if not drill.violations else 'VIOLATIONS'}")
    print(f"  figures: { {key: value for key, value in drill.figures.items() if key != 'checker'} }")
    for line in drill.report()["timeline"]:
        print(f"  {line}")
    return 1 if drill.violations else 0


if __name__ == "__main__":
    sys.exit(main())
