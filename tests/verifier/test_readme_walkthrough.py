"""The README's verifier walkthrough, run as written with real curl against authdemo and the verifier."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need
from tests.factories import UserFactory

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    section = README.read_text().split("With both running", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_verifier_walkthrough_states_what_it_expects():
    assert len([line for line in walkthrough().splitlines() if line.startswith("# => ")]) >= 5


@pytest.mark.server
def test_readme_verifier_walkthrough_runs_as_written(start_keyed_site, start_verifier, transactional_db, tmp_path):
    if shutil.which("curl") is None:
        need("curl is not installed")
    UserFactory(username="bob", password="bob-demo-pass")
    site, _ = start_keyed_site("EdDSA")
    verifier = start_verifier(site, REVOCATION_POLL="0.2")
    script = walkthrough()
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
        env={"BASE": site.url, "VERIFIER": verifier.url, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout.splitlines()
    expected = [line.removeprefix("# => ") for line in script.splitlines() if line.startswith("# => ")]
    assert len(output) == len(expected), result.stdout
    for got, want in zip(output, expected, strict=True):
        assert want in got
