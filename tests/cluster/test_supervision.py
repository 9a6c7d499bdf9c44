"""supervisord runs the cluster: one process dying, in any way, never takes the rest down, and
stopping the cluster leaves no process behind (deploy.cluster, deploy/supervisord.conf)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from deploy.cluster.postgres import postgres_bin
from tests.support import ROOT, eventually, need

pytestmark = [pytest.mark.server, pytest.mark.redis]
TIMEOUT = 10  # a bound on a hung request, not a speed assertion
BACK_WITHIN = 30  # seconds for supervisord to have a killed master's instance answering again


def started(pid: int) -> str | None:
    """When `pid` started (its identity, as pids are reused); None once it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every live process under `root`, children of children included: pid -> start time."""
    parents = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid in [pid for pid, ppid in parents.items() if ppid == parent]:
            if (start := started(pid)) is not None:
                found[pid] = start
                frontier.append(pid)
    return found


def answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=TIMEOUT).status_code == 200
    except requests.RequestException:
        return False


def test_supervision_master_killed_instance_serves_again_others_never_stop(cluster):
    victim, others = cluster.apps["main"][0], cluster.apps["main"][1:]
    pids = {program.name: program.pid for program in cluster.programs() if program is not victim}
    workers = descendants(victim.pid)
    assert workers  # gunicorn forked its worker: the one left holding the port
    killed = victim.kill()  # kill -9 <master pid>, not its process group
    deadline, missed = time.monotonic() + BACK_WITHIN, []
    while not (victim.pid not in (None, killed) and answers(victim.url)):
        assert time.monotonic() < deadline, f"{victim.name} did not answer again within {BACK_WITHIN} s"
        missed += [other.name for other in others if not answers(other.url)]
        time.sleep(0.2)
    assert missed == []
    assert [answers(cluster.url) for _ in range(4)] == [True] * 4  # through nginx
    assert {program.name: program.pid for program in cluster.programs() if program is not victim} == pids
    assert [pid for pid, start in workers.items() if started(pid) == start] == []


def test_supervision_nginx_master_killed_proxy_serves_again(cluster):
    workers = descendants(cluster.nginx.pid)
    killed = cluster.nginx.kill()  # its workers keep the port until the reaper kills them
    eventually(lambda: cluster.nginx.pid not in (None, killed) and answers(cluster.url), within=BACK_WITHIN,
               what="nginx serving again")  # fmt: skip
    assert [pid for pid, start in workers.items() if started(pid) == start] == []


LAUNCHERS = {
    "make cluster": ["deploy.cluster", "--instances", "2", "--database", "authdemo_cluster_stop"],
    "make drill": ["deploy.cluster.drill", "--quick"],  # stopped while its drills run
}


@pytest.fixture(params=LAUNCHERS)
def launched(request, tmp_path, harness_stores):
    """What `make cluster` or `make drill` runs, in a process group of its own, as a terminal
    runs it; its map once the cluster is up. Killed with its group afterwards, whatever happened."""
    if request.param == "make drill" and postgres_bin() is None:
        need("PostgreSQL's server binaries are not installed (apt-get install -y postgresql)")
    state = tmp_path / "state.json"
    command = [sys.executable, "-m", *LAUNCHERS[request.param], "--state", str(state)]
    with (tmp_path / "launcher.log").open("wb") as log:
        launcher = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    try:
        eventually(lambda: state.exists() or launcher.poll() is not None, within=240, what="the cluster's map")
        assert launcher.poll() is None, (tmp_path / "launcher.log").read_text()
        yield launcher, json.loads(state.read_text())
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()


def test_supervision_stop_mid_drill_leaves_no_process(launched):
    launcher, state = launched
    os.kill(state["apps"][0]["pid"], signal.SIGKILL)  # a drill's kill -9 of one master...
    primary = next(node for node in state["redis"] if node["role"] == "primary")
    os.kill(primary["pid"], signal.SIGSTOP)  # ...and of the Redis primary frozen
    mapped = [state["nginx"]["pid"], *(p["pid"] for key in ("apps", "redis", "sentinels") for p in state[key])]
    started_there = {**descendants(launcher.pid), **{pid: started(pid) for pid in mapped}}
    os.killpg(launcher.pid, signal.SIGTERM)  # as a terminal (or CI) stops `make cluster`
    launcher.wait(timeout=120)
    left = {pid: start for pid, start in started_there.items() if start is not None and started(pid) == start}
    assert left == {}
