"""The README's curl walkthrough, run as written with real curl against a real server."""

import pytest

from tests.factories import UserFactory
from tests.support import readme_script, run_readme_script


def walkthrough() -> str:
    return readme_script("## The API walkthrough")


def test_walkthrough_states_what_it_expects():
    expectations = [line for line in walkthrough().splitlines() if line.startswith("# => ")]
    assert len(expectations) >= 5


@pytest.mark.server
def test_readme_curl_walkthrough_runs_as_written(app_server, transactional_db, tmp_path):
    UserFactory(username="bob", password="bob-demo-pass")
    run_readme_script(walkthrough(), cwd=tmp_path, BASE=app_server.url)
