"""`make loadtest-quick` in CI: the bounded load run exits 0 and prints its summary.

It needs PostgreSQL and Redis on 127.0.0.1, whatever database the suite itself runs on:
the load run creates its own `authdemo_load_quick` database and uses Redis db 8.
Latencies are printed, never asserted.
"""

import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = [pytest.mark.server, pytest.mark.redis]
DATABASE = "authdemo_load_quick"


def test_quick_load_run_passes_and_reports(harness_stores):
    command = [sys.executable, "-m", "loadtest", "--quick", "--database", DATABASE]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    print(result.stdout[-4000:], result.stderr[-4000:])  # the p50/p99 table, shown with -rP or on failure
    assert "loadtest summary:" in result.stdout
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "loadtest: PASS" in result.stdout
