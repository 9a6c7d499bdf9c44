"""The README's verifier walkthrough, run as written with real curl against authdemo and the verifier."""

import pytest

from tests.factories import UserFactory
from tests.support import readme_script, run_readme_script


def walkthrough() -> str:
    return readme_script("With both running")


def test_verifier_walkthrough_states_what_it_expects():
    assert len([line for line in walkthrough().splitlines() if line.startswith("# => ")]) >= 5


@pytest.mark.server
def test_readme_verifier_walkthrough_runs_as_written(
    start_keyed_site, start_verifier, feed_token, transactional_db, tmp_path
):
    UserFactory(username="bob", password="bob-demo-pass")
    site, _ = start_keyed_site("EdDSA")
    verifier = start_verifier(site, REVOCATION_POLL="0.2")
    run_readme_script(
        walkthrough(), cwd=tmp_path, BASE=site.url, VERIFIER=verifier.url, REVOCATION_FEED_TOKEN=feed_token
    )
