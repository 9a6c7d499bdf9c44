"""Concurrent refreshes with one token on PostgreSQL: one rotation, and every racer gets its result."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import TokenFamily
from tests.factories import PASSWORD, UserFactory


@pytest.mark.postgres
@pytest.mark.server
def test_concurrent_refreshes_rotate_once_and_all_get_the_new_pair(postgres, transactional_db, app_server):
    UserFactory(username="racer")
    pair = requests.post(
        f"{app_server.url}/api/token/", json={"username": "racer", "password": PASSWORD}, timeout=10
    ).json()

    def attempt(_):
        return requests.post(f"{app_server.url}/api/token/refresh/", json={"refresh": pair["refresh"]}, timeout=10)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    # The losers are within the reuse interval: they get the winner's pair, not a revocation.
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.json()["refresh"] for r in responses}) == 1
    assert TokenFamily.objects.get().revoked_at is None
    assert (OutstandingToken.objects.count(), BlacklistedToken.objects.count()) == (2, 1)
