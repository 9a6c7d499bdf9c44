"""Two gunicorn processes sharing the database and Redis: sessions, tokens and revocation
made through one take effect in the other within the local tier's bound."""

import pytest
import requests

from accounts.vocabulary import REVOCABLE_ENGINE_KEYS
from tests.factories import PASSWORD, UserFactory
from tests.support import eventually, log_out_everywhere
from tests.support import form_login as browser_login

pytestmark = [pytest.mark.server, pytest.mark.redis]


@pytest.fixture(scope="module", params=REVOCABLE_ENGINE_KEYS)
def pair_of_servers(request, start_server, redis_url):
    env = {"REDIS_URL": redis_url, "SESSION_BACKEND": request.param}
    return start_server(**env), start_server(**env)


def test_session_made_on_one_works_on_the_other(pair_of_servers, transactional_db):
    one, two = pair_of_servers
    UserFactory(username="alice", display_name="Alice")
    browser = browser_login(one.url, "alice")
    assert "Welcome back, Alice" in browser.get(f"{two.url}/accounts/profile/", timeout=10).text


def test_token_from_one_verifies_on_the_other(pair_of_servers, transactional_db):
    one, two = pair_of_servers
    UserFactory(username="bob")
    pair = requests.post(f"{one.url}/api/token/", json={"username": "bob", "password": PASSWORD}, timeout=10).json()
    response = requests.get(f"{two.url}/api/dashboard/", headers={"Authorization": f"Bearer {pair['access']}"})
    assert response.json()["message"] == "Access granted to bob"


def test_revocation_on_one_takes_effect_on_the_other_within_the_bound(pair_of_servers, transactional_db):
    """Within LOCAL_TIER_BOUND: the other process may serve its local copy until Redis's
    invalidation reaches it (milliseconds; copies.redis_cache)."""
    one, two = pair_of_servers
    UserFactory(username="carol")
    victim = browser_login(one.url, "carol")
    pair = requests.post(f"{one.url}/api/token/", json={"username": "carol", "password": PASSWORD}, timeout=10).json()
    bearer = {"Authorization": f"Bearer {pair['access']}"}
    assert requests.get(f"{one.url}/api/dashboard/", headers=bearer, timeout=10).status_code == 200  # cut-off cached

    log_out_everywhere(browser_login(two.url, "carol"), two.url)
    eventually(lambda: victim.get(f"{one.url}/accounts/profile/", allow_redirects=False, timeout=10).status_code == 302)
    # the cut-off's copy is dropped through Redis, a db session's through PostgreSQL: each in its own time
    eventually(lambda: requests.get(f"{one.url}/api/dashboard/", headers=bearer, timeout=10).status_code == 401)
    refused = requests.get(f"{one.url}/api/dashboard/", headers=bearer, timeout=10)
    assert refused.json()["code"] == "token_revoked"
