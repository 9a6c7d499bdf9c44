"""Two real servers sharing the database and Redis, one clock 2 s ahead and one 2 s behind
(libfaketime, harness.clocks): a revocation made on either holds for tokens the other issued
just before it, and spares the ones it issues just after it."""

import time

import pytest
import requests

from harness.clocks import libfaketime, skewed
from tests.factories import PASSWORD, UserFactory
from tests.support import eventually, form_login, log_out_everywhere, need

pytestmark = [pytest.mark.server, pytest.mark.redis]


@pytest.fixture(scope="module")
def fast_and_slow(start_server, server_env, redis_url):
    if libfaketime() is None:
        need("libfaketime is missing: apt-get install faketime (make test-tools)")
    env = {**server_env, "REDIS_URL": redis_url}
    fast, slow = (start_server(**skewed(env, seconds)) for seconds in (2, -2))
    return fast, slow


def obtain(server, username: str) -> str:
    response = requests.post(f"{server.url}/api/token/", json={"username": username, "password": PASSWORD}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access"]


def answer(server, access: str) -> requests.Response:
    return requests.get(f"{server.url}/api/dashboard/", headers={"Authorization": f"Bearer {access}"}, timeout=10)


def issued_at(server, access: str) -> float:
    return answer(server, access).json()["data"]["iat"]


def test_servers_clocks_are_skewed(fast_and_slow, transactional_db):
    """The premise: each server stamps its own clock's time on what it issues."""
    fast, slow = fast_and_slow
    UserFactory(username="dave")
    before = time.time()
    assert issued_at(fast, obtain(fast, "dave")) > before + 1
    access = obtain(slow, "dave")
    assert issued_at(slow, access) < time.time() - 1


def test_token_issued_before_a_revocation_by_the_fast_clock_is_refused(fast_and_slow, transactional_db):
    fast, slow = fast_and_slow
    UserFactory(username="erin")
    access = obtain(fast, "erin")
    assert answer(fast, access).status_code == 200
    log_out_everywhere(form_login(slow.url, "erin"), slow.url)  # its clock reads 4 s before the token's iat
    for server in (slow, fast):  # the fast one's copy of the cut-off is dropped through Redis: eventually
        eventually(lambda s=server: answer(s, access).status_code == 401, what=f"refusal on {server.name}")
        assert answer(server, access).json()["code"] == "token_revoked"


def test_token_issued_after_a_revocation_by_the_slow_clock_is_accepted(fast_and_slow, transactional_db):
    fast, slow = fast_and_slow
    UserFactory(username="frank")
    log_out_everywhere(form_login(fast.url, "frank"), fast.url)  # its clock reads 4 s after the next token's iat
    access = obtain(slow, "frank")
    assert answer(slow, access).status_code == 200 and answer(fast, access).status_code == 200
