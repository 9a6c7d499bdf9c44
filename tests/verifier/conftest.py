"""authdemo and the verifier share a feed credential here, as a deployment's environment would give them."""

import secrets

import pytest

from tests.factories import UserFactory

FEED_TOKEN = secrets.token_urlsafe(32)  # REVOCATION_FEED_TOKEN of both sides, new for each run


@pytest.fixture(scope="session")
def feed_token() -> str:
    return FEED_TOKEN


@pytest.fixture(scope="session")
def start_keyed_site(start_keyed_site):
    """The suite's start_keyed_site, with REVOCATION_FEED_TOKEN set unless a test sets its own."""

    def _start(algorithm: str = "ES256", **overrides: str):
        return start_keyed_site(algorithm, **{"REVOCATION_FEED_TOKEN": FEED_TOKEN, **overrides})

    return _start


@pytest.fixture(scope="session")
def start_verifier(start_verifier):
    """The suite's start_verifier, with REVOCATION_FEED_TOKEN set unless a test sets its own."""

    def _start(site, **overrides: str):
        return start_verifier(site, **{"REVOCATION_FEED_TOKEN": FEED_TOKEN, **overrides})

    return _start


@pytest.fixture(scope="module")
def verifier(site, start_verifier):
    """A verifier for the module's own `site` (each module starts the site it needs)."""
    return start_verifier(site[0], REVOCATION_POLL="0.2")


@pytest.fixture
def bob(transactional_db):
    return UserFactory(username="bob")
